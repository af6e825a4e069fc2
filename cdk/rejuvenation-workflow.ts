/**
 * The rejuvenation workflow for one host, built with the aws-stepfunctions constructs in JSONPath (the
 * local interpreter ignores JSONata). State data: `request` (the execution input), `ctx` (the context
 * each step returns), `cmd` (the host command in flight), `preflight` (Preflight's command, in its own
 * slot so the later commands leave what it found, `preflight.preflight`, for WarmReboot and Verify: the
 * guests already silent), `wait`, `drain`, `error` (the caught failure), `result` (what Release reports).
 *
 * Happy path: Admit ▶ Preflight ▶ Drain ▶ WarmReboot ▶ AwaitHost ▶ Verify ▶ Undrain ▶ Release.
 * Every failure after Admit is caught into Compensate, which plans from the host's real state:
 * release, undrain, recover (the Recover document), or quarantine; Release always runs last.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  JitterType,
  Pass,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
  type IChainable,
  type INextable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { WorkflowStepId } from '../lambdas/step-catalog.js';
import { STEP_RETRY_ERRORS, type ERROR_KINDS } from '../shared/domain/error-classification.js';
import type { UnclaimedExecutionError } from '../shared/domain/errors.js';
import type { HostState } from '../shared/domain/host-state.js';
import type { HostDocument } from '../shared/workflow/workflow-config.js';

export interface RejuvenationWorkflowOptions {
  /** Pause between two looks at a running host command, a drain, or the host's agent. */
  readonly pollInterval: Duration;
  /** First pause before Admit tries again for a pool slot; grows by half each time. */
  readonly poolSlotRetryInterval: Duration;
  /** How many times Admit tries for a pool slot before the execution is refused. */
  readonly poolSlotMaxAttempts: number;
}

/**
 * Faults worth retrying: the Lambda service's and rejuv's transient errors, as the one classification
 * (shared/domain/error-classification.ts) lists them.
 */
export const TRANSIENT_ERRORS: string[] = [...STEP_RETRY_ERRORS];

/** The errors a step waits out with a Retry of its own (the classification's `contended`). */
type ContendedErrorName = {
  [N in keyof typeof ERROR_KINDS]: (typeof ERROR_KINDS)[N] extends 'contended' ? N : never;
}[keyof typeof ERROR_KINDS];

type Functions = Readonly<Record<WorkflowStepId, IFunction>>;

export function buildRejuvenationWorkflow(
  scope: Construct,
  functions: Functions,
  options: RejuvenationWorkflowOptions,
): IChainable {
  const step = (
    id: string,
    fn: WorkflowStepId,
    payload: Record<string, unknown>,
    resultPath: string,
  ): LambdaInvoke => {
    const task = new LambdaInvoke(scope, id, {
      lambdaFunction: functions[fn],
      payload: TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
      taskTimeout: Timeout.duration(Duration.minutes(2)),
    });
    task.addRetry({
      errors: TRANSIENT_ERRORS,
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: JitterType.FULL,
    });
    return task;
  };
  /**
   * Compensation whose lease expired takes the lock back (reclaim-lock.ts); while another execution
   * holds it, wait: that one is refused by the host's state and lets go within one of its steps.
   */
  const retryWhileLocked = (task: LambdaInvoke): void => {
    task.addRetry({
      errors: ['LockHeldError' satisfies ContendedErrorName],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 5,
    });
  };
  const withCtx = (extra: Record<string, unknown> = {}) => ({ 'ctx.$': '$.ctx', ...extra });
  const advance = (id: string, to: HostState, stepName: string) =>
    step(id, 'Advance', withCtx({ to, step: stepName }), '$.ctx');
  const pause = (id: string) => new Wait(scope, id, { time: WaitTime.duration(options.pollInterval) });

  /**
   * Send ▶ Wait ▶ Poll ▶ done? — the poll step throws on failure, timeout, refusal or a host that does
   * not come back. `findings` go to both steps (what Preflight found: Verify's parameters, the guests a
   * host that does not come back leaves behind). The command lives at `slot`. `next` is where a done
   * command goes, or, to route on more than done (each Choice state is a billed transition), the
   * `when` rules checked before it, each given the condition that the command is done.
   */
  const hostCommand = (
    prefix: string,
    document: HostDocument,
    next: IChainable,
    onError: (t: LambdaInvoke) => void,
    findings: Record<string, unknown> = {},
    slot = '$.cmd',
    routes: readonly { readonly when: Condition; readonly next: IChainable }[] = [],
  ) => {
    const send = step(`${prefix}Send`, 'HostCommandStart', withCtx({ document, ...findings }), slot);
    const wait = pause(`${prefix}Wait`);
    const poll = step(
      `${prefix}Poll`,
      'HostCommandPoll',
      withCtx({ 'command.$': `${slot}.command`, ...findings }),
      slot,
    );
    const isDone = Condition.booleanEquals(`${slot}.done`, true);
    const done = new Choice(scope, `${prefix}Done`);
    for (const route of routes) done.when(Condition.and(isDone, route.when), route.next);
    done.when(isDone, next).otherwise(wait);
    onError(send);
    onError(poll);
    send.next(wait);
    wait.next(poll);
    poll.next(done);
    return send;
  };

  // ---- endings ----
  const succeeded = new Succeed(scope, 'Rejuvenated');
  // The cause is the refusal's own reason (RecordRefusal's and Release's result both carry one), so an
  // operator reading the execution sees why: a policy refusal names its rule and when the gate would allow.
  const refusedEnd = new Fail(scope, 'Refused', { error: 'Refused', causePath: '$.result.reason' });
  const recoveredEnd = new Fail(scope, 'Recovered', {
    error: 'Recovered',
    cause: 'The host is back in service without rejuvenation; see the host audit chain',
  });
  const quarantinedEnd = new Fail(scope, 'Quarantined', {
    error: 'Quarantined',
    cause: 'The host is quarantined and needs a person; see the host audit chain',
  });

  // ---- compensation ----
  const releaseAfterFailure = step(
    'ReleaseAfterFailure',
    'Release',
    withCtx({ 'error.$': '$.error' }),
    '$.result',
  );
  releaseAfterFailure.next(
    new Choice(scope, 'FailureOutcome')
      .when(Condition.stringEquals('$.result.outcome', 'quarantined'), quarantinedEnd)
      .when(Condition.stringEquals('$.result.outcome', 'refused'), refusedEnd)
      .otherwise(recoveredEnd),
  );
  const quarantine = step('QuarantineHost', 'Quarantine', withCtx({ 'error.$': '$.error' }), '$.ctx');
  retryWhileLocked(quarantine);
  // Even when quarantine itself cannot be written, the leases are given back and the failure recorded.
  quarantine.addCatch(releaseAfterFailure, { resultPath: '$.quarantineError' });
  quarantine.next(releaseAfterFailure);
  const compensationFailed = (t: LambdaInvoke) =>
    t.addCatch(quarantine, { resultPath: '$.compensationError' });
  /** A compensation task: its own failure quarantines, its success goes to `next`. */
  const compensating = (task: LambdaInvoke, next: IChainable): LambdaInvoke => {
    compensationFailed(task);
    task.next(next);
    return task;
  };

  const toInServiceAfterFailure = compensating(
    advance('BackInServiceAfterFailure', 'IN_SERVICE', 'Compensate'),
    releaseAfterFailure,
  );
  const undrainAfterFailure = compensating(
    step('UndrainAfterFailure', 'Undrain', withCtx(), '$.ctx'),
    toInServiceAfterFailure,
  );
  const toUndrainingAfterRecover = compensating(
    advance('UndrainingAfterRecover', 'UNDRAINING', 'Recover'),
    undrainAfterFailure,
  );
  const recover = hostCommand('Recover', 'Recover', toUndrainingAfterRecover, compensationFailed);

  const compensate = step('Compensate', 'Compensate', withCtx({ 'error.$': '$.error' }), '$.compensation');
  retryWhileLocked(compensate);
  compensationFailed(compensate);
  const adoptPlan = new Pass(scope, 'AdoptCompensationPlan', {
    parameters: {
      'request.$': '$.request',
      'error.$': '$.error',
      'ctx.$': '$.compensation.ctx',
      'plan.$': '$.compensation.plan',
    },
  });
  compensate
    .next(adoptPlan)
    .next(
      new Choice(scope, 'CompensationPlan')
        .when(Condition.stringEquals('$.plan', 'release'), releaseAfterFailure)
        .when(Condition.stringEquals('$.plan', 'undrain'), undrainAfterFailure)
        .when(Condition.stringEquals('$.plan', 'recover'), recover)
        .otherwise(quarantine),
    );
  const compensateOnError = (t: LambdaInvoke) => t.addCatch(compensate, { resultPath: '$.error' });
  /** A happy-path task: its failure is compensated, its success goes to `next`. */
  const guarded = (task: LambdaInvoke, next: IChainable): LambdaInvoke => {
    compensateOnError(task);
    task.next(next);
    return task;
  };

  // ---- happy path, built from the end backwards so each step knows its successor ----
  const releaseAfterSuccess = step('Release', 'Release', withCtx(), '$.result');
  releaseAfterSuccess.next(succeeded);

  const toInService = guarded(advance('BackInService', 'IN_SERVICE', 'Undrain'), releaseAfterSuccess);
  const undrain = guarded(step('Undrain', 'Undrain', withCtx(), '$.ctx'), toInService);
  const toUndraining = guarded(advance('Undraining', 'UNDRAINING', 'Verify'), undrain);
  const preflightFindings = { 'preflight.$': '$.preflight.preflight' };
  const verify = hostCommand('Verify', 'Verify', toUndraining, compensateOnError, preflightFindings);
  const toVerifying = guarded(advance('Verifying', 'VERIFYING', 'AwaitHost'), verify);

  const awaitHostCheck = step('AwaitHostCheck', 'AwaitHost', withCtx({ 'wait.$': '$.wait' }), '$.wait');
  compensateOnError(awaitHostCheck);
  const awaitHostWait = pause('AwaitHostWait');
  awaitHostWait.next(awaitHostCheck);
  awaitHostCheck.next(
    new Choice(scope, 'HostBack')
      .when(Condition.booleanEquals('$.wait.online', true), toVerifying)
      .otherwise(awaitHostWait),
  );

  // The WarmReboot document suspends, reloads and resumes on the host without a round trip to us, so
  // RELOADING and RESUMING are recorded once it reports; its per-phase times are in the audit record.
  const toResuming = guarded(advance('Resuming', 'RESUMING', 'WarmReboot'), awaitHostCheck);
  const toReloading = guarded(advance('Reloading', 'RELOADING', 'WarmReboot'), toResuming);
  const warmReboot = hostCommand(
    'WarmReboot',
    'WarmReboot',
    toReloading,
    compensateOnError,
    preflightFindings,
  );
  const toSuspending = guarded(advance('Suspending', 'SUSPENDING', 'WarmReboot'), warmReboot);

  const toDrained = guarded(advance('Drained', 'DRAINED', 'Drain'), toSuspending);
  const drainCheck = step('DrainCheck', 'DrainCheck', withCtx(), '$.drain');
  compensateOnError(drainCheck);
  const drainWait = pause('DrainWait');
  drainWait.next(drainCheck);
  drainCheck.next(
    new Choice(scope, 'DrainComplete')
      .when(Condition.booleanEquals('$.drain.drained', true), toDrained)
      .otherwise(drainWait),
  );
  const drainStart = guarded(step('DrainStart', 'DrainStart', withCtx(), '$.ctx'), drainCheck);
  const toDraining = guarded(advance('Draining', 'DRAINING', 'Drain'), drainStart);

  const dryRunReport = guarded(step('DryRunReport', 'DryRunReport', withCtx(), '$.ctx'), releaseAfterSuccess);
  // In its own slot, where the next host commands do not overwrite it: Verify needs to know which guests
  // were silent before. Its Done choice also routes a dry run, so no Pass or Choice of their own is billed.
  const preflight = hostCommand('Preflight', 'Preflight', toDraining, compensateOnError, {}, '$.preflight', [
    { when: Condition.booleanEquals('$.ctx.request.dryRun', true), next: dryRunReport },
  ]);

  const refuse = step(
    'RecordRefusal',
    'Refuse',
    { 'executionId.$': '$$.Execution.Name', 'request.$': '$.request', 'error.$': '$.error' },
    '$.result',
  );
  refuse.next(refusedEnd);
  const admit = step(
    'Admit',
    'Admit',
    { 'executionId.$': '$$.Execution.Name', 'request.$': '$.request' },
    '$.ctx',
  );
  admit.addRetry({
    errors: ['PoolFullError' satisfies ContendedErrorName],
    interval: options.poolSlotRetryInterval,
    backoffRate: 1.5,
    maxDelay: Duration.minutes(5),
    maxAttempts: options.poolSlotMaxAttempts,
    jitterStrategy: JitterType.FULL,
  });
  // Named, though the clause after it catches it too: an execution no trigger claimed is refused, never
  // retried, and this name is the contract the bundle test holds Admit's function to.
  admit.addCatch(refuse, {
    errors: ['UnclaimedExecutionError' satisfies UnclaimedExecutionError['name']],
    resultPath: '$.error',
  });
  admit.addCatch(refuse, { resultPath: '$.error' });
  admit.next(preflight);

  const start = new Pass(scope, 'Start', {
    parameters: { 'request.$': '$', wait: {}, drain: {} },
  });
  return start.next(admit) as INextable & IChainable;
}
