import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { systemClock, type Clock } from '../../domain/clock.js';
import { IdempotencyKeySchema } from '../../domain/idempotency-key.js';
import { parseWith } from '../../domain/validation.js';
import type { ClaimResult, IdempotencyStore } from '../../ports/idempotency-store.js';
import { TTL_ATTRIBUTE } from '../../store/table-definitions.js';
import { isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

const ClaimValueSchema = z.string().min(1).max(1024);
const TtlSecondsSchema = z
  .number()
  .int()
  .min(1)
  .max(366 * 24 * 3600);

const ClaimItemSchema = z.object({
  key: IdempotencyKeySchema,
  value: ClaimValueSchema,
  claimedAt: z.iso.datetime(),
  [TTL_ATTRIBUTE]: z.number().int().nonnegative(),
});

/**
 * DynamoDB deletes expired items only eventually, so the claim condition treats an expired item as
 * absent instead of relying on the deletion.
 */
export class DynamoDbIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async claim(key: string, value: string, ttlSeconds: number): Promise<ClaimResult> {
    parseWith(IdempotencyKeySchema, 'idempotency key', key);
    parseWith(ClaimValueSchema, 'idempotency value', value);
    parseWith(TtlSecondsSchema, 'idempotency TTL (seconds)', ttlSeconds);
    const nowMs = this.clock.nowMs();
    const nowSeconds = Math.floor(nowMs / 1000);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            key,
            value,
            claimedAt: new Date(nowMs).toISOString(),
            [TTL_ATTRIBUTE]: nowSeconds + ttlSeconds,
          },
          ConditionExpression: 'attribute_not_exists(#key) OR #ttl <= :now',
          ExpressionAttributeNames: { '#key': 'key', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':now': nowSeconds },
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { key }, ConsistentRead: true }),
    );
    const existing = parseItem(ClaimItemSchema, this.tableName, key, Item);
    return { claimed: false, existingValue: existing.value, claimedAt: existing.claimedAt };
  }
}
