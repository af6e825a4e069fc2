/** `rejuv start`: operator-triggered maintenance of one host, followed step by step. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseWith } from '../../shared/domain/validation.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { executionArnOf, followExecution, type ExecutionView } from '../executions.js';
import type { StartOptions } from '../cli-options.js';
import type { Output } from '../output.js';
import type { Target } from '../target.js';

/** What the API's start answers (shared/workflow/start-rejuvenation.ts TriggerResult). */
const TriggerAnswerSchema = z.looseObject({
  status: z.enum(['started', 'duplicate']),
  executionName: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/),
});

export async function startCommand(
  target: Target,
  options: StartOptions,
  out: Output,
  pollMs: number,
): Promise<ExitCode> {
  const requestId = options.requestId ?? `cli-${randomUUID()}`;
  // The API names who asked (the signer AWS authenticated) and starts the execution; the CLI never does.
  const answer = await target.operatorApi.send({
    action: 'start',
    hostId: options.host,
    reason: options.reason,
    level: options.level,
    dryRun: options.dryRun,
    allowSilentGuests: options.allowSilentGuests,
    requestId,
    ...(options.breakGlassReason === undefined ? {} : { breakGlassReason: options.breakGlassReason }),
  });
  const started = parseWith(TriggerAnswerSchema, 'operator API answer', answer.result);
  const principal = answer.principal;
  const executionArn = executionArnOf(target.stateMachineArn, started.executionName);
  out.info(
    `${started.status === 'started' ? 'started' : 'already started (same request id)'} ${options.dryRun ? 'dry run' : 'rejuvenation'} of ${options.host} as ${principal}: ${started.executionName}`,
  );
  if (!options.wait) {
    out.result(
      {
        status: started.status,
        executionName: started.executionName,
        executionArn,
        hostId: options.host,
        requestId,
      },
      () => `follow it with: rejuv status ${started.executionName}`,
    );
    return EXIT.ok;
  }
  let origin: number | undefined;
  const ended = await followExecution(
    target.sfn,
    executionArn,
    (step) => {
      origin ??= Date.parse(step.at);
      out.info(`${`+${((Date.parse(step.at) - origin) / 1000).toFixed(1)}s`.padStart(8)}  ${step.step}`);
    },
    pollMs,
  );
  const host = await target.store.hosts.get(options.host);
  out.result(
    {
      status: started.status,
      executionName: started.executionName,
      executionArn,
      hostId: options.host,
      requestId,
      execution: { status: ended.status, outcome: ended.outcome, error: ended.error, cause: ended.cause },
      host: { state: host.state, stateVersion: host.stateVersion, quarantineReason: host.quarantineReason },
    },
    () => summary(ended, host.state, host.quarantineReason),
  );
  return exitCodeOf(ended);
}

function summary(ended: ExecutionView, hostState: string, quarantineReason: string | undefined): string {
  const how = ended.outcome ?? ended.status;
  const why = ended.status === 'SUCCEEDED' ? '' : `: ${ended.cause ?? ended.error ?? ''}`;
  const quarantine = quarantineReason === undefined ? '' : `\nquarantine reason: ${quarantineReason}`;
  return `${ended.hostId ?? ''} ${how} (${ended.status}); host is ${hostState}${why}${quarantine}`;
}

export function exitCodeOf(ended: ExecutionView): ExitCode {
  if (ended.status === 'SUCCEEDED') return EXIT.ok;
  if (ended.error === 'Quarantined' || ended.outcome === 'quarantined') return EXIT.quarantined;
  return EXIT.failed;
}
