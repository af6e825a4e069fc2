/** The deployable unit: one RejuvenationCoordinator, its settings read from CDK context. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RejuvenationCoordinator, type RejuvenationCoordinatorProps } from './rejuvenation-coordinator.js';

export interface RejuvStackProps extends StackProps {
  readonly coordinator?: RejuvenationCoordinatorProps;
}

export class RejuvStack extends Stack {
  readonly coordinator: RejuvenationCoordinator;

  constructor(scope: Construct, id: string, props: RejuvStackProps = {}) {
    super(scope, id, props);
    this.coordinator = new RejuvenationCoordinator(this, 'Coordinator', props.coordinator);
    new CfnOutput(this, 'StateMachineArn', { value: this.coordinator.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.coordinator.notificationTopic.topicArn });
    new CfnOutput(this, 'OperatorTriggerFunctionName', {
      value: this.coordinator.functions.OperatorTrigger.functionName,
    });
    for (const [id, table] of Object.entries(this.coordinator.tables.tables)) {
      new CfnOutput(this, `${id.charAt(0).toUpperCase()}${id.slice(1)}TableName`, { value: table.tableName });
    }
  }
}
