/** rejuv's DynamoDB tables, built from the one shared definition (shared/store/table-definitions.ts). */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  TABLE_DEFINITIONS,
  TABLE_IDS,
  type KeyAttribute,
  type TableId,
} from '../shared/store/table-definitions.js';

export interface CoordinatorTablesProps {
  /** Refuse `DeleteTable` on every table. */
  readonly deletionProtection: boolean;
  /** What happens to the tables when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

export class CoordinatorTables extends Construct {
  readonly tables: Readonly<Record<TableId, TableV2>>;

  constructor(scope: Construct, id: string, props: CoordinatorTablesProps) {
    super(scope, id);
    const tables = {} as Record<TableId, TableV2>;
    for (const tableId of TABLE_IDS) {
      const def = TABLE_DEFINITIONS[tableId];
      tables[tableId] = new TableV2(this, pascal(tableId), {
        partitionKey: attribute(def.partitionKey),
        ...(def.sortKey === undefined ? {} : { sortKey: attribute(def.sortKey) }),
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryptionV2.awsManagedKey(),
        deletionProtection: props.deletionProtection,
        removalPolicy: props.removalPolicy,
        ...(def.timeToLiveAttribute === undefined ? {} : { timeToLiveAttribute: def.timeToLiveAttribute }),
        globalSecondaryIndexes: def.globalSecondaryIndexes.map((gsi) => ({
          indexName: gsi.indexName,
          partitionKey: attribute(gsi.partitionKey),
          ...(gsi.sortKey === undefined ? {} : { sortKey: attribute(gsi.sortKey) }),
        })),
      });
    }
    this.tables = tables;
  }
}

function attribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

function pascal(id: string): string {
  return `${id.charAt(0).toUpperCase()}${id.slice(1)}Table`;
}
