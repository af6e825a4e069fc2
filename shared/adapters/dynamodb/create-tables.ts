/** Creates rejuv's tables from the shared definitions: the local bootstrap's twin of the CDK construct. */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import {
  TABLE_DEFINITIONS,
  TABLE_IDS,
  type KeyAttribute,
  type TableDefinition,
  type TableNames,
} from '../../store/table-definitions.js';

/** Creates every table that does not exist yet; existing tables are left as they are. */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await Promise.all(TABLE_IDS.map((id) => createTable(client, names[id], TABLE_DEFINITIONS[id])));
}

async function createTable(client: DynamoDBClient, tableName: string, def: TableDefinition): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions(def),
        KeySchema: keySchema(def.partitionKey, def.sortKey),
        GlobalSecondaryIndexes:
          def.globalSecondaryIndexes.length === 0
            ? undefined
            : def.globalSecondaryIndexes.map((gsi) => ({
                IndexName: gsi.indexName,
                KeySchema: keySchema(gsi.partitionKey, gsi.sortKey),
                Projection: { ProjectionType: 'ALL' },
              })),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  }
  if (def.timeToLiveAttribute !== undefined) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true },
      }),
    );
  }
}

function keySchema(partition: KeyAttribute, sort: KeyAttribute | undefined): KeySchemaElement[] {
  return [
    { AttributeName: partition.name, KeyType: 'HASH' },
    ...(sort === undefined ? [] : [{ AttributeName: sort.name, KeyType: 'RANGE' as const }]),
  ];
}

function attributeDefinitions(def: TableDefinition): AttributeDefinition[] {
  const all = [
    def.partitionKey,
    def.sortKey,
    ...def.globalSecondaryIndexes.flatMap((g) => [g.partitionKey, g.sortKey]),
  ];
  const unique = new Map<string, KeyAttribute>();
  for (const attr of all) if (attr !== undefined) unique.set(attr.name, attr);
  return [...unique.values()].map((a) => ({ AttributeName: a.name, AttributeType: a.type }));
}
