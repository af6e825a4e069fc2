/**
 * The checks a quarantined host passes before it is released: its Preflight (every VM running from its
 * inventory, RAM shared, guest heartbeats advancing, room to spare: the host could be rejuvenated again)
 * and then Verify of the run that quarantined it (each of that run's VMs runs in a new QEMU process and
 * its guest did not reboot). Each is sent, polled until it ends or its deadline passes, and judged here.
 */
import { createHash } from 'node:crypto';
import type { Host } from '../domain/host.js';
import type { HostCommandInvocation, HostCommandStatus } from '../ports/host-commands.js';
import { readHostResult, type HostResult } from '../workflow/host-result.js';
import { withExecutionTimeout } from '../workflow/workflow-config.js';
import type { OperatorUseCaseDeps, ReleaseCheck } from './operator-deps.js';
import { runHostDocument } from './run-host-document.js';

export interface CheckVerdict {
  readonly check: ReleaseCheck;
  readonly passed: boolean;
  /** Why, in a line a person reads in the audit trail and the API's answer. */
  readonly summary: string;
  readonly commandId: string;
  readonly status: HostCommandStatus | 'DeadlineExceeded';
  readonly durationMs: number;
}

/**
 * The id of one release attempt: the transition's execution id, the documents' runId and the prefix of
 * their step keys. Fixed by the host's registration, the quarantine's version and the operator's
 * request id, so a retried request runs nothing twice and a request id reused later starts afresh.
 */
export function releaseId(
  host: Pick<Host, 'hostId' | 'createdAt'>,
  quarantinedVersion: number,
  requestId: string,
) {
  const digest = createHash('sha256')
    .update(`${host.hostId}\n${host.createdAt}\n${quarantinedVersion}\n${requestId}`)
    .digest('hex')
    .slice(0, 16);
  // Step Functions' alphabet, at most 80 characters: it is recorded as an execution id.
  return `rel-${host.hostId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56)}-${digest}`;
}

/** The parameters each check's document takes. */
export function checkParameters(
  check: ReleaseCheck,
  runId: string,
  quarantinedBy: string | undefined,
): Record<string, string> {
  switch (check) {
    case 'Preflight':
      // A guest already silent is exactly what a person must look at: never allowed through here.
      return { level: 'vmm-process', runId, allowSilentGuests: 'false' };
    case 'Verify':
      // The run to verify is the one that quarantined the host (its WarmReboot ran under that id).
      return { runId: quarantinedBy ?? runId, silentAtPreflight: '-' };
  }
}

/** The agent's answer to Verify for a run that never reached WarmReboot on this host. */
const UNKNOWN_RUN = 'unknown-run';

/**
 * Passed only when the document succeeded with outcome ok. One exception: Verify refusing because the
 * quarantining run never got to WarmReboot on this host (quarantined before any VM was touched, or by
 * no run at all): there is nothing of that run to verify, and Preflight has checked every VM already.
 */
export function judgeCheck(
  check: ReleaseCheck,
  invocation: Pick<HostCommandInvocation, 'status' | 'responseCode' | 'stdout' | 'stderr'>,
): { passed: boolean; summary: string } {
  const { result, problem } = readHostResult(invocation.stdout, check);
  if (invocation.status === 'Success' && result?.outcome === 'ok')
    return { passed: true, summary: `${check} passed${vmSummary(result)}` };
  if (check === 'Verify' && result?.outcome === 'refused' && result.reasonCode === UNKNOWN_RUN)
    return {
      passed: true,
      summary: `Verify not applicable: ${result.reasons.join('; ') || 'no WarmReboot run to verify'}`,
    };
  if (result === undefined)
    return {
      passed: false,
      summary: `${check} ${invocation.status} (exit ${invocation.responseCode}) without a result (${problem}); stderr: ${invocation.stderr.slice(-300)}`,
    };
  return {
    passed: false,
    summary: `${check} ${result.outcome} (${invocation.status}): ${result.reasons.join('; ') || 'no reason given'}`,
  };
}

function vmSummary(result: HostResult): string {
  return result.vms.length === 0 ? '' : `: ${result.vms.map((vm) => `${vm.name} ${vm.outcome}`).join(', ')}`;
}

/**
 * Sends the check (or finds it sent already under the same step key) and polls it until it ends; at its
 * deadline it is cancelled and fails.
 */
export async function runCheck(
  deps: Pick<OperatorUseCaseDeps, 'hostCommands' | 'clock' | 'sleep' | 'config'>,
  instanceId: string,
  check: ReleaseCheck,
  runId: string,
  quarantinedBy: string | undefined,
): Promise<CheckVerdict> {
  const timeoutSeconds = deps.config.commandTimeoutSeconds[check];
  const run = await runHostDocument(deps, {
    instanceId,
    documentName: deps.config.documents[check],
    parameters: withExecutionTimeout(checkParameters(check, runId, quarantinedBy), timeoutSeconds),
    executionTimeoutSeconds: timeoutSeconds,
    stepKey: `${runId}:${check}`,
  });
  if (run.ended)
    return {
      check,
      commandId: run.commandId,
      status: run.invocation.status,
      durationMs: run.durationMs,
      ...judgeCheck(check, run.invocation),
    };
  return {
    check,
    commandId: run.commandId,
    status: 'DeadlineExceeded',
    durationMs: run.durationMs,
    passed: false,
    summary: `${check} did not finish within ${timeoutSeconds} s (last status ${run.lastStatus}); cancelled`,
  };
}
