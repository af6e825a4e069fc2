/**
 * Notifications: the topic operators hear from (quarantines, failures, completions, dead-lettered trigger
 * events), either given or created with a KMS key of its own that CloudWatch alarms may use.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface NotificationsProps {
  /**
   * An existing topic to notify instead of creating one. It must let CloudWatch alarms publish (topic policy
   * and, if encrypted, a key policy granting `cloudwatch.amazonaws.com` kms:Decrypt and kms:GenerateDataKey*).
   * @default - a new topic encrypted with its own KMS key, which CloudWatch alarms may use
   */
  readonly topic?: ITopic;
}

/**
 * The notification topic. Its resources are created in `scope`, not under this construct, so that their
 * logical ids stay those of the deployed stacks (see HostDocuments).
 */
export class Notifications extends Construct {
  readonly topic: ITopic;
  /** The topic this construct created, with its key; undefined when the topic was given. */
  readonly ownTopic: Topic | undefined;

  constructor(scope: Construct, id: string, props: NotificationsProps = {}) {
    super(scope, id);
    this.ownTopic = props.topic === undefined ? createNotificationTopic(scope) : undefined;
    this.topic = props.topic ?? (this.ownTopic as Topic);
  }

  /**
   * Lets `alarm` publish to the topic this construct created. The topic policy that enforces TLS replaces
   * SNS's default policy, so the alarm is let in by name. A given topic's policy is its owner's.
   */
  allowAlarmToPublish(alarm: IAlarm): void {
    this.ownTopic?.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.ownTopic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': alarm.alarmArn } },
      }),
    );
  }
}

/**
 * The topic encrypted with a key of its own: CloudWatch alarms cannot publish to a topic encrypted
 * with the AWS managed SNS key, whose key policy nobody can extend.
 */
function createNotificationTopic(scope: Construct): Topic {
  const key = new Key(scope, 'NotificationsKey', {
    description: 'rejuv notifications topic: lets the functions and the dead-letter alarm publish',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  key.addToResourcePolicy(
    new PolicyStatement({
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }),
  );
  return new Topic(scope, 'Notifications', { enforceSSL: true, masterKey: key });
}
