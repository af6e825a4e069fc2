/**
 * The one definition of rejuv's DynamoDB tables: keys, indexes and TTL attributes. The CDK construct
 * and the local bootstrap both build their tables from this, so they cannot drift apart.
 */
export type AttributeType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface GlobalSecondaryIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
}

export interface TableDefinition {
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalSecondaryIndexes: readonly GlobalSecondaryIndexDefinition[];
  /** Attribute holding epoch seconds after which DynamoDB may delete the item. */
  readonly timeToLiveAttribute?: string;
}

export const TABLE_IDS = ['hosts', 'leases', 'audit', 'idempotency', 'campaigns', 'pending'] as const;
export type TableId = (typeof TABLE_IDS)[number];

export const HOSTS_BY_POOL_INDEX = 'byPool';
export const AUDIT_BY_EXECUTION_INDEX = 'byExecution';
export const PENDING_BY_QUEUE_INDEX = 'byQueue';
export const TTL_ATTRIBUTE = 'ttlEpochSeconds';

export const TABLE_DEFINITIONS: Readonly<Record<TableId, TableDefinition>> = {
  hosts: {
    partitionKey: { name: 'hostId', type: 'S' },
    globalSecondaryIndexes: [
      {
        indexName: HOSTS_BY_POOL_INDEX,
        partitionKey: { name: 'pool', type: 'S' },
        sortKey: { name: 'hostId', type: 'S' },
      },
    ],
  },
  // Lease items are never deleted, not even by TTL: their fencing tokens must only ever grow.
  leases: {
    partitionKey: { name: 'resource', type: 'S' },
    globalSecondaryIndexes: [],
  },
  // Records live at seq >= 1; each chain's head at seq 0; retried-append markers in partitions of their own.
  audit: {
    partitionKey: { name: 'chainId', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    globalSecondaryIndexes: [
      {
        indexName: AUDIT_BY_EXECUTION_INDEX,
        partitionKey: { name: 'executionId', type: 'S' },
        sortKey: { name: 'at', type: 'S' },
      },
    ],
  },
  idempotency: {
    partitionKey: { name: 'key', type: 'S' },
    globalSecondaryIndexes: [],
    timeToLiveAttribute: TTL_ATTRIBUTE,
  },
  // A campaign's own item (`item = campaign`) and one item per host (`item = host#<id>`) in its partition.
  campaigns: {
    partitionKey: { name: 'campaignId', type: 'S' },
    sortKey: { name: 'item', type: 'S' },
    globalSecondaryIndexes: [],
  },
  /*
   * Requests that could not run yet (pending-requests.ts): one item per host, so every request naming a
   * host merges into one entry, written with conditional puts on its version. A sparse index lists them
   * without a scan: `queue` (`waiting`, or `dropped` for a while so the reason stays visible) is set only
   * on those, `poolHost` (`<pool>#<host>`) sorts them by pool, so one pool's waiting hosts are one Query
   * with begins_with. Only refusals and settlements write it, far below one partition's write rate.
   */
  pending: {
    partitionKey: { name: 'hostId', type: 'S' },
    globalSecondaryIndexes: [
      {
        indexName: PENDING_BY_QUEUE_INDEX,
        partitionKey: { name: 'queue', type: 'S' },
        sortKey: { name: 'poolHost', type: 'S' },
      },
    ],
    timeToLiveAttribute: TTL_ATTRIBUTE,
  },
};

export type TableNames = Readonly<Record<TableId, string>>;

/** Physical table names: `<prefix>-<id>`, e.g. `rejuv-prod-hosts`. */
export function tableNamesFor(prefix: string): TableNames {
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(prefix)) {
    throw new Error(`table name prefix ${JSON.stringify(prefix)} must be 1-200 chars of A-Z a-z 0-9 _ . -`);
  }
  return Object.fromEntries(TABLE_IDS.map((id) => [id, `${prefix}-${id}`])) as Record<TableId, string>;
}
