/**
 * The maintenance functions' schedules: the host sync (the registry against SSM's managed instances, and
 * the per-host aging alarms) and the pending drainer (queued alarm and prediction requests whose pool has
 * room), which also runs whenever a per-host execution ends.
 */
import type { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface MaintenanceFunctionsProps {
  readonly hostSync: IFunction;
  readonly pendingDrain: IFunction;
  /** Time between two syncs of the host registry. */
  readonly hostSyncInterval: Duration;
  /** Time between two scheduled passes of the pending drainer. */
  readonly drainInterval: Duration;
  /** Every end of its executions may have freed a pool slot: the drainer runs then too. */
  readonly stateMachine: IStateMachine;
}

/**
 * The host sync's and the pending drainer's rules. Its resources are created in `scope`, not under this
 * construct, so that their logical ids stay those of the deployed stacks (see HostDocuments).
 */
export class MaintenanceFunctions extends Construct {
  constructor(scope: Construct, id: string, props: MaintenanceFunctionsProps) {
    super(scope, id);
    new Rule(scope, 'HostSyncSchedule', {
      description: 'Syncs the host registry with the managed instances SSM reports',
      schedule: Schedule.rate(props.hostSyncInterval),
      targets: [new LambdaFunction(props.hostSync)],
    });
    new Rule(scope, 'PendingDrainSchedule', {
      description: 'Runs queued alarm and prediction requests whose pool has room',
      schedule: Schedule.rate(props.drainInterval),
      targets: [new LambdaFunction(props.pendingDrain)],
    });
    new Rule(scope, 'PendingDrainOnExecutionEnd', {
      description: 'An ended execution may have freed a pool slot: run the queued requests that fit',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [props.stateMachine.stateMachineArn],
        },
      },
      targets: [new LambdaFunction(props.pendingDrain)],
    });
  }
}
