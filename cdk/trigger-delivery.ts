/**
 * Trigger delivery: how the events that start and end rejuvenations reach their functions, and where what
 * cannot be delivered is kept. A lost alarm event is a missed rejuvenation and a lost execution-status
 * event leaves a host orphaned, so both paths keep what they cannot deliver: EventBridge retries the
 * invoke and then dead-letters the event; Lambda, which takes the event asynchronously, retries a failing
 * handler and then sends the invocation record (event and error) to the same queue, whose alarm notifies
 * the operators.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  ALARM_RULE_MAX_EVENT_AGE_MS,
  ALARM_TRIGGER_ASYNC_MAX_EVENT_AGE_MS,
} from '../shared/workflow/alarm-delivery.js';
import { REAPED_STATUSES } from '../shared/workflow/reap-ended-execution.js';
import type { Notifications } from './notifications.js';

export interface TriggerDeliveryProps {
  /** Takes the aging alarms' state changes into ALARM. */
  readonly alarmTrigger: IFunction;
  /** Takes the ends of executions that did not clean up after themselves. */
  readonly reap: IFunction;
  /** The per-host state machine whose executions' ends are reaped. */
  readonly stateMachine: IStateMachine;
  /** Every alarm whose name begins with this starts a rejuvenation. */
  readonly agingAlarmNamePrefix: string;
  /** Where the dead-letter alarm notifies. */
  readonly notifications: Notifications;
}

/**
 * The alarm and execution-end rules, the dead-letter queue and its alarm. Its resources are created in
 * `scope`, not under this construct, so that their logical ids stay those of the deployed stacks (see
 * HostDocuments).
 */
export class TriggerDelivery extends Construct {
  /** Trigger events EventBridge could not deliver, and trigger invocations Lambda gave up on. */
  readonly deadLetterQueue: Queue;
  /** In ALARM while the dead-letter queue holds a message; notifies the notification topic. */
  readonly deadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, props: TriggerDeliveryProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(scope, 'DeadLetters', {
      // SQS-managed keys: EventBridge cannot send to a queue encrypted with the AWS managed SQS KMS key.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // The alarm trigger refuses state changes older than these two queues can hold (alarm-delivery.ts).
    const delivery = {
      retryAttempts: 8,
      maxEventAge: Duration.millis(ALARM_RULE_MAX_EVENT_AGE_MS),
      deadLetterQueue: this.deadLetterQueue,
    };
    new Rule(scope, 'AgingAlarmRule', {
      description: 'CloudWatch aging alarms entering ALARM start a rejuvenation',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: props.agingAlarmNamePrefix }], state: { value: ['ALARM'] } },
      },
      targets: [new LambdaFunction(props.alarmTrigger, delivery)],
    });
    new Rule(scope, 'ExecutionEndedRule', {
      description: 'Executions that end without their own cleanup (stopped, timed out, failed) are reaped',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...REAPED_STATUSES], stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [new LambdaFunction(props.reap, delivery)],
    });
    // Both handlers are idempotent (a dedupe key per alarm change; reaping an already reaped host
    // changes nothing), so Lambda's retries are safe.
    for (const fn of [props.alarmTrigger, props.reap]) {
      fn.configureAsyncInvoke({
        retryAttempts: 2,
        maxEventAge: Duration.millis(ALARM_TRIGGER_ASYNC_MAX_EVENT_AGE_MS),
        onFailure: new SqsDestination(this.deadLetterQueue),
      });
    }
    this.deadLetterAlarm = alarmOnDeadLetters(scope, this.deadLetterQueue, props.notifications);
  }
}

/** A dead-lettered event must reach a person: the queue's depth alarms on the notification topic. */
function alarmOnDeadLetters(scope: Construct, queue: Queue, notifications: Notifications): Alarm {
  const alarm = new Alarm(scope, 'DeadLettersAlarm', {
    alarmDescription:
      'rejuv: a trigger event was dead-lettered (an aging alarm that started no rejuvenation, or an ended execution whose host was not reaped). Read the messages in the dead-letter queue.',
    metric: queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new SnsAction(notifications.topic));
  notifications.allowAlarmToPublish(alarm);
  return alarm;
}
