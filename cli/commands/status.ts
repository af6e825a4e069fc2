/** `rejuv status [EXECUTION]`: the recent executions, or where one execution and its host stand. */
import { HostNotFoundError } from '../../shared/domain/errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { describeExecution, executionArnOf, listExecutions } from '../executions.js';
import { table, type Output } from '../output.js';
import type { Target } from '../target.js';

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
