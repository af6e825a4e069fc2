/**
 * A host document as two steps the state machine loops over: start (send, with a deadline) and poll
 * (look, cancel at the deadline, judge the result). No Lambda waits; the state machine's Wait does.
 */
import { z } from 'zod';
import {
  HostCommandFailedError,
  HostCommandTimeoutError,
  HostNotBackError,
  PreflightRefusedError,
} from '../domain/errors.js';
import { TERMINAL_COMMAND_STATUSES, type HostCommandInvocation } from '../ports/host-commands.js';
import { auditStep } from './audit-step.js';
import { HOST_DOCUMENTS, withExecutionTimeout, type HostDocument } from './workflow-config.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';
import { readHostResult, type HostResult, type HostResultReading } from './host-result.js';
import { guestsOf, silentAtPreflightParameter, type PreflightFindings } from './preflight-findings.js';

export const PendingCommandSchema = z
  .object({
    document: z.enum(HOST_DOCUMENTS),
    commandId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
    sentAt: z.iso.datetime(),
    deadline: z.iso.datetime(),
    /** When a poll first found the host's agent offline while the command had not ended; cleared when back. */
    unreachableSince: z.iso.datetime().optional(),
  })
  .strict();

export type PendingCommand = z.output<typeof PendingCommandSchema>;

export type PollOutcome =
  | { readonly done: false; readonly command: PendingCommand }
  | {
      readonly done: true;
      readonly command: PendingCommand;
      readonly result: HostResult;
      /** Set for Preflight: the state machine keeps it for Verify. */
      readonly preflight?: PreflightFindings;
    };

/** Nothing found silent: what Verify assumes when it is given no findings. */
const NO_FINDINGS: PreflightFindings = { silentGuests: [] };

/**
 * The parameters each document takes, from the execution's context and Preflight's findings only:
 * nothing else reaches a host.
 */
function documentParameters(
  document: HostDocument,
  ctx: WorkflowContext,
  preflight: PreflightFindings,
): Record<string, string> {
  switch (document) {
    case 'Preflight':
      return {
        level: ctx.request.level,
        runId: ctx.executionId,
        allowSilentGuests: String(ctx.request.allowSilentGuests),
      };
    case 'WarmReboot':
      return { level: ctx.request.level, runId: ctx.executionId };
    case 'Verify':
      return { runId: ctx.executionId, silentAtPreflight: silentAtPreflightParameter(preflight) };
    case 'Recover':
      return { runId: ctx.executionId };
  }
}

export async function startHostCommand(
  deps: WorkflowDeps,
  ctx: WorkflowContext,
  document: HostDocument,
  preflight: PreflightFindings = NO_FINDINGS,
): Promise<PendingCommand> {
  const sentAtMs = deps.clock.nowMs();
  const timeoutSeconds = deps.config.commandTimeoutSeconds[document];
  const { commandId } = await deps.commands.send({
    instanceId: ctx.instanceId,
    documentName: deps.config.documents[document],
    parameters: withExecutionTimeout(documentParameters(document, ctx, preflight), timeoutSeconds),
    executionTimeoutSeconds: timeoutSeconds,
    stepKey: `${ctx.executionId}:${document}`,
  });
  await auditStep(deps, ctx, { key: 'sent', step: document, outcome: 'started', commandId });
  return {
    document,
    commandId,
    sentAt: new Date(sentAtMs).toISOString(),
    deadline: new Date(sentAtMs + timeoutSeconds * 1000).toISOString(),
  };
}

/**
 * Follows the host's agent while a command has not ended: a host that rebooted for the command (the
 * kernel level's kexec) is offline for a while, and one that stays offline longer than AwaitHost would
 * wait is not coming back on its own.
 */
async function watchReachability(
  deps: WorkflowDeps,
  ctx: WorkflowContext,
  command: PendingCommand,
  nowMs: number,
): Promise<{ readonly command: PendingCommand; readonly pingStatus: string }> {
  const { pingStatus } = await deps.agents.status(ctx.instanceId);
  const { unreachableSince, ...rest } = command;
  if (pingStatus === 'Online') return { command: rest, pingStatus };
  return {
    command: { ...rest, unreachableSince: unreachableSince ?? new Date(nowMs).toISOString() },
    pingStatus,
  };
}

export async function pollHostCommand(
  deps: WorkflowDeps,
  ctx: WorkflowContext,
  pending: PendingCommand,
  preflight: PreflightFindings = NO_FINDINGS,
): Promise<PollOutcome> {
  let command = pending;
  const invocation = await deps.commands.invocation(command.commandId, ctx.instanceId);
  const nowMs = deps.clock.nowMs();
  const finished = (TERMINAL_COMMAND_STATUSES as readonly string[]).includes(invocation.status);
  if (!finished) {
    const watched = await watchReachability(deps, ctx, command, nowMs);
    command = watched.command;
    const giveUpAtMs =
      command.unreachableSince === undefined
        ? Infinity
        : Date.parse(command.unreachableSince) + deps.config.awaitHostTimeoutSeconds * 1000;
    const hostGone = nowMs >= giveUpAtMs;
    if (!hostGone && nowMs < Date.parse(command.deadline)) return { done: false, command };
    // Cancelled even when the host is gone: should it come back, the command must not resume on its own
    // over a host a person is now looking at.
    await deps.commands.cancel(command.commandId, ctx.instanceId);
    await auditStep(deps, ctx, {
      key: 'result',
      step: command.document,
      outcome: 'failed',
      commandId: command.commandId,
      durationMs: nowMs - Date.parse(command.sentAt),
      detail: hostGone
        ? {
            status: 'HostNotBack',
            pingStatus: watched.pingStatus,
            unreachableSince: command.unreachableSince ?? null,
            guests: (preflight.guests ?? []).join(',') || null,
          }
        : { status: 'DeadlineExceeded' },
    });
    if (hostGone)
      throw new HostNotBackError(
        ctx.request.hostId,
        new Date(giveUpAtMs).toISOString(),
        watched.pingStatus,
        preflight.guests,
      );
    throw new HostCommandTimeoutError(
      ctx.request.hostId,
      command.document,
      command.commandId,
      command.deadline,
    );
  }
  const reading = readHostResult(invocation.stdout, command.document);
  const { result } = reading;
  const ok = invocation.status === 'Success' && result?.outcome === 'ok';
  await auditStep(deps, ctx, {
    key: 'result',
    step: command.document,
    outcome: ok ? 'succeeded' : result?.outcome === 'refused' ? 'refused' : 'failed',
    commandId: command.commandId,
    durationMs: nowMs - Date.parse(command.sentAt),
    detail: resultDetail(invocation, reading),
  });
  if (!ok) throw failure(ctx, command, invocation, reading);
  return result.document === 'Preflight'
    ? {
        done: true,
        command,
        result,
        preflight: {
          silentGuests: result.silentVms ?? [],
          guests: guestsOf(result.vms.map((vm) => vm.name)),
        },
      }
    : { done: true, command, result };
}

function failure(
  ctx: WorkflowContext,
  command: PendingCommand,
  invocation: HostCommandInvocation,
  reading: HostResultReading,
): Error {
  const { result } = reading;
  // A line of another release's documents: failed by its own name (not retried, compensated).
  if (reading.versionError !== undefined) return reading.versionError;
  const reasons = result?.reasons ?? [];
  if (command.document === 'Preflight' && result?.outcome === 'refused') {
    return new PreflightRefusedError(ctx.request.hostId, reasons);
  }
  if (invocation.status === 'TimedOut') {
    return new HostCommandTimeoutError(
      ctx.request.hostId,
      command.document,
      command.commandId,
      'its execution timeout',
    );
  }
  const detail =
    result === undefined
      ? `status ${invocation.status}, exit ${invocation.responseCode}, no result (${reading.problem}); stderr: ${invocation.stderr.slice(-500)}`
      : `status ${invocation.status}, outcome ${result.outcome}: ${reasons.join('; ') || 'no reason given'}`;
  return new HostCommandFailedError(ctx.request.hostId, command.document, command.commandId, detail);
}

function resultDetail(
  invocation: HostCommandInvocation,
  reading: HostResultReading,
): Record<string, string | number | boolean | null> {
  const { result } = reading;
  const silentVms = result?.document === 'Preflight' ? result.silentVms : undefined;
  const silentAtPreflight = result?.document === 'Verify' ? result.silentAtPreflight : undefined;
  const reload = result?.document === 'WarmReboot' ? result : undefined;
  return {
    status: invocation.status,
    responseCode: invocation.responseCode,
    outcome: result?.outcome ?? null,
    vms: result?.vms.length ?? null,
    summary: result === undefined ? null : JSON.stringify(result.vms).slice(0, 4000),
    reasons: result?.reasons.join('; ').slice(0, 4000) ?? null,
    ...(reading.problem === undefined ? {} : { problem: reading.problem.slice(0, 4000) }),
    ...(silentVms === undefined ? {} : { silentGuests: silentVms.join(',') }),
    ...(silentAtPreflight === undefined ? {} : { silentAtPreflight: silentAtPreflight.join(',') }),
    // Preflight's census: the VMs on the host this run leaves alone, so the operator learns that part of
    // the host was not rejuvenated (or, at the kernel level, why the run was refused).
    ...(result === undefined || result.notRejuvenated.length === 0
      ? {}
      : { notRejuvenated: result.notRejuvenated.join('; ').slice(0, 4000) }),
    // The kernel level's reload, as the host saw it: the audit lists the kernels before and after.
    ...(reload?.kernelReloaded === undefined
      ? {}
      : {
          kernelReloaded: reload.kernelReloaded,
          bootIdBefore: reload.bootIdBefore ?? null,
          bootIdAfter: reload.bootIdAfter ?? null,
        }),
  };
}
