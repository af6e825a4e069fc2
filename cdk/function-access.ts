/**
 * What each function of the coordinator may call, granted from the tables that say it
 * (function-grants.ts, function-settings.ts): the DynamoDB actions per table, the host documents and the
 * tagged instances, the SSM and CloudWatch reads, the load balancers, the topic. Nothing else.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { COLLECTION_KEY_PREFIX } from '../shared/adapters/dynamodb/dynamodb-collection-rounds.js';
import { AGING_NAMESPACE } from '../shared/aging/metric-data.js';
import { PENDING_BY_QUEUE_INDEX, type TableId } from '../shared/store/table-definitions.js';
import type { CoordinatorTables } from './coordinator-tables.js';
import {
  CLOUDWATCH_READS,
  COLLECTION_ROUND_GRANT,
  PENDING_INDEX_GRANT,
  SSM_READS,
  SSM_TAG_READS,
  TABLE_GRANTS,
  type FunctionId,
  type TableAction,
  type TableGrant,
} from './function-grants.js';
import { FUNCTION_SETTINGS, functionIdsWhere } from './function-settings.js';
import type { HostDocuments } from './host-documents.js';
import type { RejuvFunction } from './rejuv-function.js';

export interface FunctionAccessProps {
  readonly functions: Readonly<Record<FunctionId, RejuvFunction>>;
  readonly tables: CoordinatorTables;
  readonly documents: HostDocuments;
  readonly notificationTopic: ITopic;
  /** The target groups the draining functions deregister hosts from. */
  readonly targetGroupArns: readonly string[];
  /** The prefix of the aging alarms the host sync keeps; undefined when it keeps none. */
  readonly agingAlarmNamePrefix: string | undefined;
}

/** Grants every function exactly what its rows say. */
export function grantFunctionAccess(props: FunctionAccessProps): void {
  const { functions } = props;
  grantTables(functions, props.tables);
  if (props.agingAlarmNamePrefix !== undefined)
    grantAgingAlarms(functions.HostSync, props.agingAlarmNamePrefix);
  grantHostAccess(functions, props.documents, props.targetGroupArns);
  for (const fnId of functionIdsWhere((s) => s.notifies === true))
    props.notificationTopic.grantPublish(functions[fnId]);
}

/** Exactly the table actions each function's store operations make (function-grants.ts). */
function grantTables(
  functions: Readonly<Record<FunctionId, RejuvFunction>>,
  tables: CoordinatorTables,
): void {
  functions.AgingCollector.addToRolePolicy(
    new PolicyStatement({
      actions: COLLECTION_ROUND_GRANT.map((a) => `dynamodb:${a}`),
      resources: [tables.tables.idempotency.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${COLLECTION_KEY_PREFIX}*`] },
      },
    }),
  );
  functions.AgingCollector.addToRolePolicy(
    new PolicyStatement({
      // PutMetricData has no resource-level permissions; the namespace condition is what limits it.
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': AGING_NAMESPACE } },
    }),
  );
  for (const fnId of PENDING_INDEX_GRANT) {
    functions[fnId].addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${tables.tables.pending.tableArn}/index/${PENDING_BY_QUEUE_INDEX}`],
      }),
    );
  }
  for (const [fnId, grant] of Object.entries(TABLE_GRANTS) as [FunctionId, TableGrant][]) {
    for (const [tableId, actions] of Object.entries(grant) as [TableId, readonly TableAction[]][]) {
      functions[fnId].addToRolePolicy(
        new PolicyStatement({
          actions: actions.map((a) => `dynamodb:${a}`),
          resources: [tables.tables[tableId].tableArn],
        }),
      );
    }
  }
}

/**
 * The host sync writes only alarms under the prefix; DescribeAlarms cannot be limited to names. No alarm
 * actions: CloudWatch sends every alarm's state changes to EventBridge, where AgingAlarmRule takes them.
 */
function grantAgingAlarms(fn: RejuvFunction, prefix: string): void {
  const stack = Stack.of(fn);
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'],
      resources: [
        stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${prefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );
  fn.addToRolePolicy(new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }));
}

function grantHostAccess(
  functions: Readonly<Record<FunctionId, RejuvFunction>>,
  documents: HostDocuments,
  targetGroupArns: readonly string[],
): void {
  const stack = Stack.of(documents);
  for (const fnId of functionIdsWhere((s) => s.sendsDocuments !== undefined)) {
    const sent = FUNCTION_SETTINGS[fnId].sendsDocuments ?? [];
    documents.grantSend(
      functions[fnId],
      sent.map((d) => documents.documents[d]),
    );
  }
  // The operator API sends Census for `rejuv hosts inventory` (its checks' documents are in its row).
  documents.grantSend(functions.OperatorApi, [documents.census]);
  // The collector sends CollectAging, and only it, to the managed instances.
  documents.grantSend(functions.AgingCollector, [documents.collectAging]);
  for (const [fnId, actions] of Object.entries(SSM_READS) as [FunctionId, readonly string[]][]) {
    // These SSM actions support no resource-level permissions.
    functions[fnId].addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: ['*'] }));
  }
  for (const [fnId, actions] of Object.entries(CLOUDWATCH_READS) as [FunctionId, readonly string[]][])
    functions[fnId].addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: ['*'] }));
  for (const fnId of SSM_TAG_READS) {
    functions[fnId].addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:ListTagsForResource'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' })],
      }),
    );
    // EC2 instances' tags: SSM's ListTagsForResource takes only on-premises mi- ids as ManagedInstance.
    functions[fnId].addToRolePolicy(new PolicyStatement({ actions: ['ec2:DescribeTags'], resources: ['*'] }));
  }
  if (targetGroupArns.length === 0) return;
  for (const fnId of functionIdsWhere((s) => s.drains === true)) {
    functions[fnId].addToRolePolicy(
      new PolicyStatement({
        // Drain records where the host was in a tag on the target group, so undrain can put it back there.
        actions: [
          'elasticloadbalancing:RegisterTargets',
          'elasticloadbalancing:DeregisterTargets',
          'elasticloadbalancing:AddTags',
          'elasticloadbalancing:RemoveTags',
        ],
        resources: [...targetGroupArns],
      }),
    );
    functions[fnId].addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:DescribeTags'],
        resources: ['*'],
      }),
    );
  }
}
