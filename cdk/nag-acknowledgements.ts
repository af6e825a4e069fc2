/**
 * The cdk-nag AwsSolutions findings the coordinator leaves, each acknowledged with why it stays. Applied by
 * the stack (rejuv-stack.ts), not the construct: cdk-nag is a devDependency, and the acknowledgements are
 * plain Validations entries that need nothing of it. A stack of your own that runs cdk-nag over a
 * coordinator calls `acknowledgeCoordinatorFindings` the same way.
 */
import { Stack, Token, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { CAMPAIGN_STEPS, type CampaignStepId } from '../lambdas/step-catalog.js';
import { DIGEST_PREFIX } from '../shared/domain/audit-digest.js';
import type { FunctionId } from './function-grants.js';
import { SSM_TAG_READS } from './function-grants.js';
import { FUNCTION_SETTINGS } from './function-settings.js';
import type { RejuvenationCoordinator } from './rejuvenation-coordinator.js';

/** A specific finding (rule id with its finding, e.g. `AwsSolutions-IAM5[Resource::*]`) and why it stays. */
export interface Acknowledgement {
  readonly finding: string;
  readonly reason: string;
}

/** Acknowledges findings on a scope, all in one call: a later call on the same scope replaces an earlier one. */
export function acknowledgeFindings(scope: IConstruct, acknowledgements: readonly Acknowledgement[]): void {
  Validations.of(scope).acknowledge(
    ...acknowledgements.map((a) => ({ id: `AwsSolutions::${a.finding}`, reason: a.reason })),
  );
}

/** Every finding the coordinator leaves, acknowledged where it is granted. */
export function acknowledgeCoordinatorFindings(coordinator: RejuvenationCoordinator): void {
  acknowledgeFindings(coordinator.deadLetterQueue, [
    {
      finding: 'AwsSolutions-SQS3',
      reason:
        'it is the dead-letter queue of the trigger rules and functions; nothing reads it but an operator',
    },
  ]);
  acknowledgeFunctionWildcards(coordinator);
  acknowledgeStateMachineWildcards(coordinator);
  acknowledgeAuditDigests(coordinator);
}

/** cdk-nag writes unresolved pseudo parameters as <AWS::Region>, resolved ones as themselves. */
function nagEnvironment(stack: Stack): { region: string; account: string } {
  return {
    region: Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region,
    account: Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account,
  };
}

function logicalIdOf(c: IConstruct): string {
  return Stack.of(c).getLogicalId(c.node.defaultChild as CfnElement);
}

/** Every wildcard that remains on a function's role, and why it cannot be narrowed. */
function acknowledgeFunctionWildcards(coordinator: RejuvenationCoordinator): void {
  const { region, account } = nagEnvironment(Stack.of(coordinator));
  for (const [fnId, fn] of Object.entries(coordinator.functions) as [
    FunctionId,
    IConstruct & { role?: IRole },
  ][]) {
    const row = FUNCTION_SETTINGS[fnId];
    const acknowledgements: Acknowledgement[] = [
      {
        finding: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray PutTraceSegments/PutTelemetryRecords, the SSM command and instance reads, ELB DescribeTargetHealth, CloudWatch PutMetricData (limited by its namespace condition) and Step Functions SendTaskSuccess/Failure/Heartbeat (the operator API answering a campaign approval token) support no resource-level permissions',
      },
    ];
    if (row.notifies === true && coordinator.notificationTopic instanceof Topic) {
      acknowledgements.push({
        finding: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason:
          'publishing to the encrypted notification topic needs a data key; granted on that topic key only',
      });
    }
    if (row.sendsDocuments !== undefined || fnId === 'AgingCollector') {
      for (const [service, resource] of [
        ['ssm', 'managed-instance/*'],
        ['ec2', 'instance/*'],
      ] as const) {
        acknowledgements.push({
          finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:${service}:${region}:${account}:${resource}]`,
          reason:
            'hosts are not known at deploy time; SendCommand to them is limited by the condition on the managed-instance tag',
        });
      }
    }
    if (SSM_TAG_READS.includes(fnId) && row.sendsDocuments === undefined) {
      acknowledgements.push({
        finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${region}:${account}:managed-instance/*]`,
        reason: 'the sync discovers hosts: it reads the tags of managed instances not known at deploy time',
      });
    }
    const alarmPrefix = coordinator.keptAgingAlarmNamePrefix;
    if (fnId === 'HostSync' && alarmPrefix !== undefined) {
      acknowledgements.push({
        finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:${region}:${account}:alarm:${alarmPrefix}*]`,
        reason:
          'hosts come and go at run time: the sync puts and deletes their alarms, all under the aging alarm prefix',
      });
    }
    acknowledgeFindings(fn.role as IRole, acknowledgements);
  }
}

/** The wildcards CDK writes into the machines' roles, for X-Ray, logs, `.sync` and the Lambda invokes. */
function acknowledgeStateMachineWildcards(coordinator: RejuvenationCoordinator): void {
  const { region, account } = nagEnvironment(Stack.of(coordinator));
  const xrayAndLogs = {
    finding: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'X-Ray and CloudWatch Logs delivery need Resource *',
  };
  const invokesVersionsOf = (fn: IConstruct): Acknowledgement => ({
    finding: `AwsSolutions-IAM5[Resource::<${logicalIdOf(fn)}.Arn>:*]`,
    reason: 'invokes any version of its own step functions',
  });
  acknowledgeFindings(coordinator.stateMachine, [
    xrayAndLogs,
    ...Object.values(coordinator.functions).map(invokesVersionsOf),
  ]);
  acknowledgeFindings(coordinator.campaignStateMachine, [
    xrayAndLogs,
    ...(Object.keys(CAMPAIGN_STEPS) as CampaignStepId[]).map((id) =>
      invokesVersionsOf(coordinator.functions[id]),
    ),
    {
      finding: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalIdOf(coordinator.stateMachine)}"}]}]}*]`,
      reason:
        'a .sync start describes and stops the child executions it starts, whose names it makes per host',
    },
  ]);
}

function acknowledgeAuditDigests(coordinator: RejuvenationCoordinator): void {
  const { bucket, sealer } = coordinator.auditDigests;
  acknowledgeFindings(bucket, [
    {
      finding: 'AwsSolutions-S1',
      reason:
        'only the sealer writes, once per key (Object Lock, If-None-Match); reads are audited by CloudTrail data events where the account enables them',
    },
  ]);
  acknowledgeFindings(sealer.role ?? sealer, [
    {
      finding: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions',
    },
    {
      finding: `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/${DIGEST_PREFIX}*]`,
      reason: 'adds and reads digests, one object per sequence number, under the digest prefix only',
    },
  ]);
}
