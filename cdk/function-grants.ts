/**
 * What each function may call, and nothing more: the DynamoDB actions per table and the SSM reads, as
 * the store operations its use case performs need them. Every entry was seen used under local IAM (which
 * refuses the call a grant lacks) on the tested paths, and read off the adapters for the rest; an action
 * no code path uses is not granted (no Scan, no DeleteItem, no BatchWriteItem, no index queries, no
 * stream reads; Scan only for the host sync, which reads the whole registry). Step roles only append to the audit table: GetItem to read a chain's head, PutItem for
 * the conditional puts of one append.
 */
import type { CampaignStepId, ScheduledId, TriggerId, WorkflowStepId } from '../lambdas/step-catalog.js';
import type { TableId } from '../shared/store/table-definitions.js';

export type FunctionId = WorkflowStepId | CampaignStepId | TriggerId | ScheduledId;

export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'Query'
  | 'Scan';

export type TableGrant = Partial<Record<TableId, readonly TableAction[]>>;

/** The store operations, each with the table calls it makes (see shared/adapters/dynamodb). */
const READ_HOST: TableGrant = { hosts: ['GetItem'] };
/** A fenced host transition or cordon: a transaction updating the host, checking the lock. */
const MOVE_HOST: TableGrant = { hosts: ['GetItem', 'UpdateItem'], leases: ['ConditionCheckItem'] };
/** Lock and pool slot: conditional updates of lease items; slots are read as a batch. */
const READ_LEASES: TableGrant = { leases: ['GetItem'] };
const TAKE_LEASES: TableGrant = { leases: ['GetItem', 'BatchGetItem', 'UpdateItem'] };
const RENEW_OR_RELEASE_LEASES: TableGrant = { leases: ['GetItem', 'UpdateItem'] };
const APPEND_AUDIT: TableGrant = { audit: ['GetItem', 'PutItem'] };
const READ_AUDIT: TableGrant = { audit: ['GetItem', 'Query'] };
/**
 * A trigger's claim: a conditional put, and a read of the claim that won. Only the triggers write the
 * idempotency table: a claim is what Admit takes as proof that a trigger started the execution.
 */
const CLAIM_REQUEST: TableGrant = { idempotency: ['GetItem', 'PutItem'] };
/** A host's pending entry: read consistently, written with a put conditional on its version. */
const QUEUE_REQUEST: TableGrant = { pending: ['GetItem', 'PutItem'] };
/** Admit's check of its execution's claim (and Refuse's, before it records whose request it refused). */
const READ_CLAIM: TableGrant = { idempotency: ['GetItem'] };

export const TABLE_GRANTS: Readonly<Record<FunctionId, TableGrant>> = {
  Admit: merge(READ_CLAIM, MOVE_HOST, TAKE_LEASES, APPEND_AUDIT),
  Advance: merge(MOVE_HOST, RENEW_OR_RELEASE_LEASES, APPEND_AUDIT),
  HostCommandStart: APPEND_AUDIT,
  HostCommandPoll: APPEND_AUDIT,
  DrainStart: merge(MOVE_HOST, APPEND_AUDIT),
  DrainCheck: READ_HOST,
  Undrain: merge(MOVE_HOST, APPEND_AUDIT),
  AwaitHost: APPEND_AUDIT,
  // Both may reclaim a lock lost to a stall (reclaim-lock.ts), which takes a lease and a slot again.
  Compensate: merge(MOVE_HOST, TAKE_LEASES, RENEW_OR_RELEASE_LEASES, APPEND_AUDIT),
  Quarantine: merge(MOVE_HOST, TAKE_LEASES, RENEW_OR_RELEASE_LEASES, APPEND_AUDIT),
  // Records a rejuvenation's end on the host (a conditional update) for the policy gate's cooldown.
  Release: merge({ hosts: ['GetItem', 'UpdateItem'] }, READ_LEASES, RENEW_OR_RELEASE_LEASES, APPEND_AUDIT),
  // Queues an alarm's or a prediction's refused request on the host's pending entry (conditional puts).
  Refuse: merge(READ_CLAIM, READ_HOST, APPEND_AUDIT, QUEUE_REQUEST),
  DryRunReport: APPEND_AUDIT,
  Reap: merge(MOVE_HOST, TAKE_LEASES, APPEND_AUDIT, READ_AUDIT),
  // Reads the campaign, moves its status and hosts (conditional updates), and claims each host's
  // execution as the triggers do, so Admit admits it.
  // Reads each host it would start, for the policy gate's cooldown.
  CampaignPlan: merge({ campaigns: ['Query', 'UpdateItem'] }, READ_HOST, CLAIM_REQUEST),
  CampaignRecord: { campaigns: ['UpdateItem'] },
  // Reads the campaign, stores its task token or records the expiry (conditional updates), audits.
  CampaignAwaitApproval: merge({ campaigns: ['Query', 'UpdateItem'] }, APPEND_AUDIT),
  AlarmTrigger: merge(READ_HOST, CLAIM_REQUEST),
  // Lists the registry (a Scan) and claims each predicted host's execution.
  AgingPredictor: merge({ hosts: ['Scan'] }, CLAIM_REQUEST),
  // Starts (a claim), registers (a conditional put), deregisters (a conditional delete), releases (the
  // host lock and a fenced transition) and syncs (as HostSync), auditing each.
  OperatorApi: merge(
    { hosts: ['DeleteItem', 'GetItem', 'PutItem', 'Scan', 'UpdateItem'] },
    MOVE_HOST,
    TAKE_LEASES,
    RENEW_OR_RELEASE_LEASES,
    CLAIM_REQUEST,
    APPEND_AUDIT,
    // Campaigns: created (conditional puts: the campaign's item, then each host's), read, moved.
    { campaigns: ['PutItem', 'Query', 'UpdateItem'] },
  ),
  // Lists the registry (a consistent Scan), registers (a conditional put), marks (a conditional update,
  // read before and after).
  HostSync: merge({ hosts: ['GetItem', 'PutItem', 'Scan', 'UpdateItem'] }, APPEND_AUDIT),
  // Lists the registry (a consistent Scan) to attribute each instance's reply to its host. Its round marks
  // in the idempotency table are granted apart, on its own keys only (COLLECTION_ROUND_GRANT).
  AgingCollector: { hosts: ['Scan'] },
  // Lists the waiting entries (a Query of the byQueue index, granted apart: PENDING_INDEX_GRANT), reads each
  // host and its pool's slots, claims and starts the queued run as the triggers do, settles the entry.
  PendingDrain: merge(QUEUE_REQUEST, READ_HOST, { leases: ['BatchGetItem'] }, CLAIM_REQUEST, APPEND_AUDIT),
};

/** Who lists pending entries through the table's byQueue index. */
export const PENDING_INDEX_GRANT: readonly FunctionId[] = ['PendingDrain'];

/**
 * The collector's round marks: conditional puts and updates of keys under its own prefix in the
 * idempotency table, and nothing else there (a claim it could write would pass Admit's check).
 */
export const COLLECTION_ROUND_GRANT: readonly TableAction[] = ['GetItem', 'PutItem', 'UpdateItem'];

/**
 * The SSM reads each function makes; these actions support no resource-level permissions. SendCommand is
 * granted apart, on the project's documents and tagged instances only.
 */
export const SSM_READS: Readonly<Partial<Record<FunctionId, readonly string[]>>> = {
  // ListCommands finds a command already sent for this step, so a retried send sends nothing new.
  HostCommandStart: ['ssm:ListCommands'],
  // CancelCommand ends a command that passed its deadline.
  // DescribeInstanceInformation: a host that rebooted for a command must be seen coming back, or not.
  HostCommandPoll: ['ssm:GetCommandInvocation', 'ssm:CancelCommand', 'ssm:DescribeInstanceInformation'],
  AwaitHost: ['ssm:DescribeInstanceInformation'],
  HostSync: ['ssm:DescribeInstanceInformation'],
  // ListCommands finds a round's command after a crash; the outputs are read one invocation at a time.
  AgingCollector: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations', 'ssm:ListCommands'],
  // Release runs Preflight and Verify (send, find, look, cancel at the deadline); sync lists instances.
  OperatorApi: [
    'ssm:CancelCommand',
    'ssm:DescribeInstanceInformation',
    'ssm:GetCommandInvocation',
    'ssm:ListCommands',
  ],
};

/**
 * The CloudWatch reads each function makes: GetMetricData and ListMetrics support no resource-level
 * permissions nor a namespace condition (only PutMetricData has `cloudwatch:namespace`).
 */
export const CLOUDWATCH_READS: Readonly<Partial<Record<FunctionId, readonly string[]>>> = {
  AgingPredictor: ['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics'],
  // The policy gate's blockers: the alarms in ALARM (only called when a pool has blocker patterns).
  Admit: ['cloudwatch:DescribeAlarms'],
  CampaignPlan: ['cloudwatch:DescribeAlarms'],
};

/**
 * The host sync reads each managed instance's tags: a hybrid node's with ListTagsForResource on managed
 * instances, an EC2 instance's with ec2:DescribeTags (which has no resource-level permissions).
 */
export const SSM_TAG_READS: readonly FunctionId[] = ['HostSync', 'OperatorApi'];

function merge(...grants: TableGrant[]): TableGrant {
  const merged: Partial<Record<TableId, Set<TableAction>>> = {};
  for (const grant of grants) {
    for (const [table, actions] of Object.entries(grant) as [TableId, readonly TableAction[]][]) {
      const set = merged[table] ?? new Set<TableAction>();
      for (const action of actions) set.add(action);
      merged[table] = set;
    }
  }
  return Object.fromEntries(Object.entries(merged).map(([t, s]) => [t, [...s].sort()])) as TableGrant;
}
