/** Wires every DynamoDB adapter to one client and one set of tables. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { systemClock, type Clock } from '../../domain/clock.js';
import type { AuditLog } from '../../ports/audit-log.js';
import type { CampaignStore } from '../../ports/campaign-store.js';
import type { HostLock } from '../../ports/host-lock.js';
import type { HostRepository } from '../../ports/host-repository.js';
import type { IdempotencyStore } from '../../ports/idempotency-store.js';
import type { PendingStore } from '../../ports/pending-store.js';
import type { PoolSemaphore } from '../../ports/pool-semaphore.js';
import type { TableNames } from '../../store/table-definitions.js';
import { createDocumentClient } from './document-client.js';
import { DynamoDbAuditLog } from './dynamodb-audit-log.js';
import { DynamoDbCampaignStore } from './dynamodb-campaign-store.js';
import { DynamoDbHostLock } from './dynamodb-host-lock.js';
import { DynamoDbHostRepository } from './dynamodb-host-repository.js';
import { DynamoDbIdempotencyStore } from './dynamodb-idempotency-store.js';
import { DynamoDbPendingStore } from './dynamodb-pending-store.js';
import { DynamoDbPoolSemaphore } from './dynamodb-pool-semaphore.js';

export interface Store {
  readonly hosts: HostRepository;
  readonly hostLock: HostLock;
  readonly poolSemaphore: PoolSemaphore;
  readonly audit: AuditLog;
  readonly idempotency: IdempotencyStore;
  readonly campaigns: CampaignStore;
  /** Alarm and predictive requests refused for now, one entry per host, until they run or are dropped. */
  readonly pending: PendingStore;
}

export function createDynamoDbStore(
  client: DynamoDBClient,
  tables: TableNames,
  clock: Clock = systemClock,
): Store {
  const documents = createDocumentClient(client);
  return {
    hosts: new DynamoDbHostRepository(documents, tables, clock),
    hostLock: new DynamoDbHostLock(documents, tables.leases, clock),
    poolSemaphore: new DynamoDbPoolSemaphore(documents, tables.leases, clock),
    audit: new DynamoDbAuditLog(documents, tables.audit),
    idempotency: new DynamoDbIdempotencyStore(documents, tables.idempotency, clock),
    campaigns: new DynamoDbCampaignStore(documents, tables.campaigns),
    pending: new DynamoDbPendingStore(documents, tables.pending, clock),
  };
}
