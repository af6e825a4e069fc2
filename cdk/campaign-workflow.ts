/**
 * The campaign state machine: a loop of Plan ▶ run the planned hosts ▶ Plan, each host as a child
 * execution of the per-host workflow (`states:startExecution.sync:2`), so that workflow stays the one
 * unit of work. The plan step honours the campaign's status (paused: wait; cancelling: end once nothing
 * is in flight; halted: end and say why), its limits and its failure tolerance. The Map runs one plan's
 * batch, which the limits bound (and CampaignPlan caps at MAX_HOSTS_PER_PASS), so an inline Map suffices
 * for any fleet: the fleet itself lives in the campaigns table, never in the state.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  Map as MapState,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
  type IChainable,
  type IStateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, StepFunctionsStartExecution } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { CampaignStepId } from '../lambdas/step-catalog.js';
import { TRANSIENT_ERRORS } from './rejuvenation-workflow.js';

export interface CampaignWorkflowOptions {
  /** Pause before planning again when nothing could start (paused, or every slot taken). */
  readonly replanInterval: Duration;
}

export function buildCampaignWorkflow(
  scope: Construct,
  functions: Readonly<Record<CampaignStepId, IFunction>>,
  hostWorkflow: IStateMachine,
  options: CampaignWorkflowOptions,
): IChainable {
  const step = (id: string, fn: CampaignStepId, payload: Record<string, unknown>, resultPath: string) => {
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

  const plan = step('CampaignPlan', 'CampaignPlan', { 'campaignId.$': '$.campaignId' }, '$.plan');

  // One host: its own execution of the per-host workflow, waited for; its outcome recorded either way.
  const hostInput = { 'campaignId.$': '$.campaignId', 'hostId.$': '$.host.hostId' };
  const recordDone = step(
    'RecordHostDone',
    'CampaignRecord',
    { ...hostInput, 'result.$': '$.result' },
    JsonPath.DISCARD,
  );
  const recordFailed = step(
    'RecordHostFailed',
    'CampaignRecord',
    { ...hostInput, 'error.$': '$.error' },
    JsonPath.DISCARD,
  );
  const runHost = new StepFunctionsStartExecution(scope, 'RunHost', {
    stateMachine: hostWorkflow,
    integrationPattern: IntegrationPattern.RUN_JOB,
    input: TaskInput.fromJsonPathAt('$.host.request'),
    name: JsonPath.stringAt('$.host.executionName'),
    // The child's request must be exactly the one claimed: nothing is added to it.
    associateWithParent: false,
    resultSelector: { 'Status.$': '$.Status', 'ExecutionArn.$': '$.ExecutionArn' },
    resultPath: '$.result',
  });
  // A host that fails, is refused or quarantined is the campaign's to count, never the campaign's end.
  runHost.addCatch(recordFailed, { resultPath: '$.error' });
  runHost.next(recordDone);

  const runHosts = new MapState(scope, 'RunHosts', {
    itemsPath: '$.plan.hosts',
    itemSelector: { 'campaignId.$': '$.campaignId', 'host.$': '$$.Map.Item.Value' },
    // The plan started no more than the limits allow: every host of the batch runs at once.
    maxConcurrency: 0,
    resultPath: JsonPath.DISCARD,
  });
  runHosts.itemProcessor(runHost);

  const wait = new Wait(scope, 'CampaignWait', { time: WaitTime.duration(options.replanInterval) });
  const halted = new Fail(scope, 'CampaignHalted', {
    error: 'CampaignHalted',
    cause: 'More hosts failed than the campaign tolerates; `rejuv campaign status` names them',
  });
  const ended = new Succeed(scope, 'CampaignEnded');
  runHosts.next(plan);
  wait.next(plan);
  plan.next(
    new Choice(scope, 'CampaignNext')
      .when(Condition.stringEquals('$.plan.action', 'start'), runHosts)
      .when(
        Condition.stringEquals('$.plan.action', 'end'),
        new Choice(scope, 'CampaignOutcome')
          .when(Condition.stringEquals('$.plan.status', 'halted'), halted)
          .otherwise(ended),
      )
      .otherwise(wait),
  );
  return plan;
}
