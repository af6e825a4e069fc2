import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../shared/adapters/dynamodb/create-tables.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/document-client.js';
import { createDynamoDbStore, type Store } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { systemClock, type Clock } from '../../shared/domain/clock.js';
import { tableNamesFor, type TableNames } from '../../shared/store/table-definitions.js';
import { localDynamoDbClient } from '../../local/dynamodb-local.js';

export interface TestTables {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  readonly documents: ReturnType<typeof createDocumentClient>;
  store(clock?: Clock): Store;
}

/** Fresh, uniquely named tables in the shared DynamoDB Local, so test files never see each other's items. */
export async function freshTables(): Promise<TestTables> {
  const client = localDynamoDbClient(inject('dynamoDbEndpoint'));
  const tables = tableNamesFor(`t-${randomUUID().slice(0, 8)}`);
  await createTables(client, tables);
  return {
    client,
    tables,
    documents: createDocumentClient(client),
    store: (clock: Clock = systemClock) => createDynamoDbStore(client, tables, clock),
  };
}
