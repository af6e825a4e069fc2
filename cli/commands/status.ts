/** `rejuv status [EXECUTION]`: the recent executions, or where one execution and its host stand. */
import { HostNotFoundError } from '../../shared/domain/errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { describeExecution, executionArnOf, listExecutions } from '../executions.js';
import { table, type Output } from '../output.js';
import type { Target } from '../target.js';
import { pendingView } from './hosts.js';

export async function statusCommand(
  target: Target,
  execution: string | undefined,
  out: Output,
): Promise<ExitCode> {
  if (execution === undefined) {
    const executions = await listExecutions(target.sfn, target.stateMachineArn, 50);
    out.result({ executions }, () =>
      executions.length === 0
        ? 'no executions'
        : table(
            ['EXECUTION', 'STATUS', 'STARTED', 'STOPPED'],
            executions.map((e) => [e.name, e.status, e.startDate, e.stopDate]),
          ),
    );
    return EXIT.ok;
  }
  if (!execution.startsWith('arn:') && (await hostStatus(target, execution, out))) return EXIT.ok;
  const view = await describeExecution(target.sfn, executionArnOf(target.stateMachineArn, execution));
  const host =
    view.hostId === undefined
      ? undefined
      : await target.store.hosts.get(view.hostId).catch((error: unknown) => {
          if (error instanceof HostNotFoundError) return undefined;
          throw error;
        });
  out.result({ execution: view, host: host ?? null }, () =>
    [
      `execution  ${view.name}`,
      `status     ${view.status}${view.outcome === undefined ? '' : ` (${view.outcome})`}`,
      `host       ${view.hostId ?? '-'}${host === undefined ? '' : ` is ${host.state} (version ${host.stateVersion}${host.cordoned ? ', cordoned' : ''})`}`,
      ...(host?.quarantineReason === undefined ? [] : [`quarantine ${host.quarantineReason}`]),
      `trigger    ${view.trigger ?? '-'}${view.dryRun === true ? ' (dry run)' : ''}`,
      `started    ${view.startDate ?? '-'}`,
      ...(view.stopDate === undefined ? [] : [`stopped    ${view.stopDate}`]),
      ...(view.error === undefined ? [] : [`error      ${view.error}: ${view.cause ?? ''}`]),
      '',
      table(
        ['STEP', 'STATE', 'ENTERED'],
        view.steps.filter((s, i, all) => all[i - 1]?.step !== s.step).map((s) => [s.step, s.state, s.at]),
      ),
    ].join('\n'),
  );
  return EXIT.ok;
}

/** `rejuv status <host>`: the host's state and its pending entry; false when no host or entry has the name. */
async function hostStatus(target: Target, hostId: string, out: Output): Promise<boolean> {
  const [host, entry] = await Promise.all([
    target.store.hosts.get(hostId).catch((error: unknown) => {
      if (error instanceof HostNotFoundError) return undefined;
      throw error;
    }),
    target.store.pending.get(hostId),
  ]);
  if (host === undefined && entry === undefined) return false;
  const pending = entry === undefined ? null : pendingView(entry);
  out.result({ host: host ?? null, pending }, () =>
    [
      `host       ${hostId}${host === undefined ? ' (not registered)' : ` is ${host.state} (version ${host.stateVersion}${host.cordoned ? ', cordoned' : ''}) in pool ${host.pool}`}`,
      ...(host?.executionId === undefined ? [] : [`execution  ${host.executionId}`]),
      ...(host?.quarantineReason === undefined ? [] : [`quarantine ${host.quarantineReason}`]),
      ...(pending === null
        ? ['pending    none']
        : pending.status === 'waiting'
          ? [
              `pending    ${pending.requests} ${pending.trigger} request(s) waiting since ${pending.waitingSince}`,
              `waiting    ${pending.waitingReason}`,
              ...(pending.notBefore === undefined ? [] : [`not before ${pending.notBefore}`]),
            ]
          : [
              `pending    none; the last ${pending.outcome?.requests ?? pending.requests} request(s) ${pending.status} at ${pending.outcome?.at ?? '-'}`,
              ...(pending.outcome?.outcome === 'ran' ? [`ran as     ${pending.outcome.runId}`] : []),
              ...(pending.outcome?.outcome === 'dropped' ? [`dropped    ${pending.outcome.reason}`] : []),
            ]),
    ].join('\n'),
  );
  return true;
}
