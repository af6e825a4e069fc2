/**
 * Pending entries in DynamoDB, one item per host (`hostId`). Waiting and recently dropped entries carry
 * `queue` and `poolHost`, the keys of the sparse byQueue index, so listing them is a Query, never a scan;
 * an entry that ran leaves the index. Settled entries expire after a while (TTL). Every write is a put
 * conditional on the version it read.
 */
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { systemClock, type Clock } from '../../domain/clock.js';
import { PendingEntrySchema, type PendingEntry } from '../../campaign/pending-entry.js';
import type { PendingStore } from '../../ports/pending-store.js';
import { PENDING_BY_QUEUE_INDEX, TTL_ATTRIBUTE } from '../../store/table-definitions.js';
import { isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

/** How long a settled entry stays readable (`rejuv hosts` shows drops, `rejuv status` the last outcome). */
export const SETTLED_ENTRY_RETENTION_SECONDS = 14 * 24 * 3600;

const PendingItemSchema = PendingEntrySchema.extend({
  queue: z.enum(['waiting', 'dropped']).optional(),
  poolHost: z.string().optional(),
  [TTL_ATTRIBUTE]: z.number().int().nonnegative().optional(),
});

export class DynamoDbPendingStore implements PendingStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async get(hostId: string): Promise<PendingEntry | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { hostId }, ConsistentRead: true }),
    );
    return Item === undefined ? undefined : this.parse(hostId, Item);
  }

  async put(entry: PendingEntry, expectedVersion: number | undefined): Promise<boolean> {
    const valid = PendingEntrySchema.parse(entry);
    const queue = valid.status === 'ran' ? undefined : valid.status;
    const item: Record<string, unknown> = {
      ...valid,
      ...(queue === undefined ? {} : { queue, poolHost: `${valid.pool}#${valid.hostId}` }),
      ...(valid.status === 'waiting'
        ? {}
        : { [TTL_ATTRIBUTE]: Math.floor(this.clock.nowMs() / 1000) + SETTLED_ENTRY_RETENTION_SECONDS }),
    };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(hostId)' }
            : {
                ConditionExpression: 'version = :expected',
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  listWaiting(pool?: string): Promise<PendingEntry[]> {
    return this.query('waiting', pool);
  }

  listDropped(): Promise<PendingEntry[]> {
    return this.query('dropped', undefined);
  }

  private async query(queue: 'waiting' | 'dropped', pool: string | undefined): Promise<PendingEntry[]> {
    const entries: PendingEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: PENDING_BY_QUEUE_INDEX,
          KeyConditionExpression: pool === undefined ? '#q = :q' : '#q = :q AND begins_with(poolHost, :pool)',
          ExpressionAttributeNames: { '#q': 'queue' },
          ExpressionAttributeValues: { ':q': queue, ...(pool === undefined ? {} : { ':pool': `${pool}#` }) },
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of page.Items ?? []) entries.push(this.parse(String(item['hostId']), item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    // The index is eventually consistent: a settled entry may still be listed; callers read it again
    // (consistently) before they act on it.
    return entries.filter((e) => e.status === queue);
  }

  private parse(hostId: string, item: Record<string, unknown>): PendingEntry {
    const {
      queue: _q,
      poolHost: _p,
      [TTL_ATTRIBUTE]: _ttl,
      ...entry
    } = parseItem(PendingItemSchema, this.tableName, hostId, item);
    return entry;
  }
}
