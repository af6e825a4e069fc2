/** The deployable unit: one RejuvenationCoordinator, with the settings the app read (app-settings.ts). */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { NotificationSetting } from './app-settings.js';
import { acknowledgeCoordinatorFindings } from './nag-acknowledgements.js';
import { RejuvenationCoordinator, type RejuvenationCoordinatorProps } from './rejuvenation-coordinator.js';

export interface RejuvStackProps extends StackProps {
  readonly coordinator?: RejuvenationCoordinatorProps;
  /**
   * Where notifications go: an email address subscribed to the topic the coordinator creates, or an
   * existing topic the coordinator uses instead (it must let CloudWatch alarms publish).
   * @default - the coordinator's own topic, with no subscription
   */
  readonly notification?: NotificationSetting;
}

export class RejuvStack extends Stack {
  readonly coordinator: RejuvenationCoordinator;

  constructor(scope: Construct, id: string, props: RejuvStackProps = {}) {
    super(scope, id, props);
    const notification = props.notification;
    const givenTopic =
      notification !== undefined && 'topicArn' in notification
        ? Topic.fromTopicArn(this, 'NotificationTopic', notification.topicArn)
        : undefined;
    this.coordinator = new RejuvenationCoordinator(this, 'Coordinator', {
      ...props.coordinator,
      ...(givenTopic === undefined ? {} : { notificationTopic: givenTopic }),
    });
    acknowledgeCoordinatorFindings(this.coordinator);
    if (notification !== undefined && 'email' in notification) {
      this.coordinator.notificationTopic.addSubscription(new EmailSubscription(notification.email));
    }
    new CfnOutput(this, 'StateMachineArn', { value: this.coordinator.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.coordinator.notificationTopic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.coordinator.deadLetterQueue.queueUrl });
    // Where `rejuv` sends operator actions, signed with the caller's credentials.
    new CfnOutput(this, 'OperatorApiUrl', { value: this.coordinator.operatorApiUrl.url });
    new CfnOutput(this, 'AuditDigestBucketName', { value: this.coordinator.auditDigests.bucket.bucketName });
    new CfnOutput(this, 'AuditDigestKeyArn', { value: this.coordinator.auditDigests.signingKey.keyArn });
    // What `rejuv audit verify` judges overdue records by.
    new CfnOutput(this, 'AuditSealIntervalSeconds', {
      value: String(this.coordinator.auditDigests.sealInterval.toSeconds()),
    });
    for (const [id, table] of Object.entries(this.coordinator.tables.tables)) {
      new CfnOutput(this, `${id.charAt(0).toUpperCase()}${id.slice(1)}TableName`, { value: table.tableName });
    }
  }
}
