/**
 * The aging pipeline's schedules: the fleet-wide collection (CollectAging by tag, published to CloudWatch)
 * and the predictive trigger that judges the series. The per-host alarms on the same series are kept by
 * the host sync (MaintenanceFunctions) and delivered by TriggerDelivery.
 */
import type { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface AgingPipelineProps {
  /** Publishes the previous collection round and starts the next. */
  readonly collector: IFunction;
  /** Judges every host's aging series and starts the hosts predicted to run out. */
  readonly predictor: IFunction;
  /**
   * Whether the collection's schedule runs; the collector is deployed either way.
   * @default true
   */
  readonly collectionEnabled?: boolean;
  /** Time between two collection rounds. */
  readonly collectionInterval: Duration;
  /** Time between two evaluations of the fleet. */
  readonly predictionInterval: Duration;
}

/**
 * The collection and prediction schedules. Its resources are created in `scope`, not under this
 * construct, so that their logical ids stay those of the deployed stacks (see HostDocuments).
 */
export class AgingPipeline extends Construct {
  constructor(scope: Construct, id: string, props: AgingPipelineProps) {
    super(scope, id);
    if (props.collectionEnabled ?? true) {
      new Rule(scope, 'AgingCollectionSchedule', {
        description: 'Publishes the previous aging collection round and starts the next',
        schedule: Schedule.rate(props.collectionInterval),
        targets: [new LambdaFunction(props.collector)],
      });
    }
    new Rule(scope, 'AgingPredictionSchedule', {
      description: "Judges every host's aging series and starts the hosts predicted to run out",
      schedule: Schedule.rate(props.predictionInterval),
      targets: [new LambdaFunction(props.predictor)],
    });
  }
}
