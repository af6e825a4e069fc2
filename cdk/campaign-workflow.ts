/**
 * The campaign state machine: a loop of Plan ▶ run the planned hosts ▶ Plan, each host as a child
 * execution of the per-host workflow (`states:startExecution.sync:2`), so that workflow stays the one
 * unit of work. The plan step honours the campaign's status (paused: wait; cancelling: end once nothing
 * is in flight; halted: end and say why), its limits and its failure tolerance. The Map runs one plan's
 * batch, which the limits bound (and CampaignPlan caps at MAX_HOSTS_PER_PASS), so an inline Map suffices
 * for any fleet: the fleet itself lives in the campaigns table, never in the state.
 *
 * What does grow with the fleet is the execution's history, which Step Functions caps at 25,000 events: a
 * pass of 40 hosts writes about 530 of them, and a campaign waiting out a week of closed windows loops
 * thousands of times. So after `passesPerExecution` passes the machine continues as new: it starts its
 * own next generation (`campaign_<n>_<id>`: the first generation is `campaign-<id>`, so no campaign id
 * makes another's name, and a retry names the same execution) with the campaign's id and ends. Nothing is
 * in flight then (the Map waited for its hosts), and the campaign's state is all in its table, so the
 * next generation plans exactly where this one stopped.
 *
 * Approval: while a pool of the campaign requires one and nobody decided, the plan answers
 * `await-approval` and the machine waits on a task token (CampaignAwaitApproval, `lambda:invoke
 * .waitForTaskToken`) before any host starts. The operator API's approve, reject or cancel wakes it; it
 * then plans again, and the plan reads the decision from the table. No decision within the timeout
 * records the expiry and the campaign ends `rejected`.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Errors,
  Condition,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  Map as MapState,
  Pass,
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
  /** How long a campaign waits for its approval before it ends `rejected`. */
  readonly approvalTimeout: Duration;
  /** Passes one execution runs before it continues as a new one (see above). */
  readonly passesPerExecution: number;
  /** The campaign machine itself, by the name it is deployed with: its next generation's machine. */
  readonly self: IStateMachine;
}

/** A campaign execution's input: the first generation's comes from the operator API. */
export interface CampaignExecutionInput {
  readonly campaignId: string;
  readonly generation: number;
  readonly passes: number;
}

/**
 * The execution of a campaign's generation. Names keep to A-Z a-z 0-9 - _, which CloudWatch Logs needs;
 * the digits-then-underscore of later generations parse one way only.
 */
export function campaignGenerationName(campaignId: string, generation = 0): string {
  return generation === 0 ? `campaign-${campaignId}` : `campaign_${generation}_${campaignId}`;
}

/** What wakes the approval step without a decision of its own: the plan reads what was decided. */
const APPROVAL_WAKE_ERRORS = ['CampaignApprovalDecidedError', 'CampaignRejected', 'CampaignCancelled'];

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

  const plan = step(
    'CampaignPlan',
    'CampaignPlan',
    { 'campaignId.$': '$.campaignId', replanSeconds: options.replanInterval.toSeconds() },
    '$.plan',
  );

  // Every pass goes through here: count it, and past the budget hand the campaign to a new execution.
  const countPass = new Pass(scope, 'CountPass', {
    parameters: {
      'campaignId.$': '$.campaignId',
      'generation.$': '$.generation',
      'passes.$': 'States.MathAdd($.passes, 1)',
    },
  });
  const continueAsNew = new StepFunctionsStartExecution(scope, 'ContinueAsNew', {
    stateMachine: options.self,
    integrationPattern: IntegrationPattern.REQUEST_RESPONSE,
    name: JsonPath.format('campaign_{}_{}', JsonPath.stringAt('$.next'), JsonPath.stringAt('$.campaignId')),
    input: TaskInput.fromObject({
      'campaignId.$': '$.campaignId',
      'generation.$': '$.next',
      passes: 0,
    }),
    associateWithParent: false,
    resultSelector: { 'ExecutionArn.$': '$.ExecutionArn' },
    resultPath: '$.continuedAs',
  });
  continueAsNew.addRetry({
    errors: ['States.TaskFailed'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: JitterType.FULL,
  });
  const nextGeneration = new Pass(scope, 'NextGeneration', {
    parameters: {
      'campaignId.$': '$.campaignId',
      'next.$': 'States.MathAdd($.generation, 1)',
    },
  });
  nextGeneration.next(continueAsNew).next(new Succeed(scope, 'CampaignContinued'));
  countPass.next(
    new Choice(scope, 'PassBudgetLeft')
      .when(Condition.numberGreaterThan('$.passes', options.passesPerExecution), nextGeneration)
      .otherwise(plan),
  );

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

  // The approval: the token goes to the function, which stores it on the campaign and notifies; the task
  // ends when the operator API answers the token (SendTaskSuccess or SendTaskFailure) or at the timeout.
  const awaitApproval = new LambdaInvoke(scope, 'AwaitApproval', {
    lambdaFunction: functions.CampaignAwaitApproval,
    integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: TaskInput.fromObject({ 'campaignId.$': '$.campaignId', taskToken: JsonPath.taskToken }),
    retryOnServiceExceptions: false,
    resultPath: JsonPath.DISCARD,
    taskTimeout: Timeout.duration(options.approvalTimeout),
  });
  awaitApproval.addRetry({
    errors: TRANSIENT_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: JitterType.FULL,
  });
  const expireApproval = step(
    'ApprovalExpired',
    'CampaignAwaitApproval',
    {
      'campaignId.$': '$.campaignId',
      expired: true,
      timeoutSeconds: options.approvalTimeout.toSeconds(),
    },
    JsonPath.DISCARD,
  );
  awaitApproval.addCatch(expireApproval, { errors: [Errors.TIMEOUT], resultPath: JsonPath.DISCARD });
  awaitApproval.addCatch(countPass, { errors: APPROVAL_WAKE_ERRORS, resultPath: JsonPath.DISCARD });
  awaitApproval.next(countPass);
  expireApproval.next(countPass);

  // The plan says how long: the replan interval, or up to 5 minutes while every pending pool waits for a
  // window (campaign-steps.ts), so an idle campaign does not pay for a pass every few seconds for days.
  const wait = new Wait(scope, 'CampaignWait', { time: WaitTime.secondsPath('$.plan.waitSeconds') });
  const halted = new Fail(scope, 'CampaignHalted', {
    error: 'CampaignHalted',
    cause: 'More hosts failed than the campaign tolerates; `rejuv campaign status` names them',
  });
  const rejected = new Fail(scope, 'CampaignRejected', {
    error: 'CampaignRejected',
    cause:
      'The campaign was rejected or its approval expired; no host started. `rejuv campaign status` says who and why',
  });
  const ended = new Succeed(scope, 'CampaignEnded');
  runHosts.next(countPass);
  wait.next(countPass);
  plan.next(
    new Choice(scope, 'CampaignNext')
      .when(Condition.stringEquals('$.plan.action', 'start'), runHosts)
      .when(Condition.stringEquals('$.plan.action', 'await-approval'), awaitApproval)
      .when(
        Condition.stringEquals('$.plan.action', 'end'),
        new Choice(scope, 'CampaignOutcome')
          .when(Condition.stringEquals('$.plan.status', 'halted'), halted)
          .when(Condition.stringEquals('$.plan.status', 'rejected'), rejected)
          .otherwise(ended),
      )
      .otherwise(wait),
  );
  return countPass;
}
