import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { systemClock, type Clock } from '../../domain/clock.js';
import { ExecutionIdSchema } from '../../domain/identifiers.js';
import { executionClaimKey, IdempotencyKeySchema } from '../../domain/idempotency-key.js';
import { parseWith } from '../../domain/validation.js';
import type {
  ClaimResult,
  ExecutionClaim,
  IdempotencyStore,
  StoredExecutionClaim,
} from '../../ports/idempotency-store.js';
import { TTL_ATTRIBUTE } from '../../store/table-definitions.js';
import { isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

const RequestDigestSchema = z.string().regex(/^[0-9a-f]{64}$/, 'request digest: 64 lowercase hex digits');
const ExecutionClaimSchema = z
  .object({ executionName: ExecutionIdSchema, requestDigest: RequestDigestSchema })
  .strict();
const TtlSecondsSchema = z
  .number()
  .int()
  .min(1)
  .max(366 * 24 * 3600);

const ClaimItemSchema = z.object({
  key: IdempotencyKeySchema,
  executionName: ExecutionIdSchema,
  requestDigest: RequestDigestSchema,
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

  async claim(claim: ExecutionClaim, ttlSeconds: number): Promise<ClaimResult> {
    const valid = parseWith(ExecutionClaimSchema, 'execution claim', claim);
    parseWith(TtlSecondsSchema, 'idempotency TTL (seconds)', ttlSeconds);
    const key = executionClaimKey(valid.executionName);
    const nowMs = this.clock.nowMs();
    const nowSeconds = Math.floor(nowMs / 1000);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            key,
            executionName: valid.executionName,
            requestDigest: valid.requestDigest,
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
    const existing = await this.claimOf(valid.executionName);
    // Only an expiry and a deletion between the put and this read leave nothing: claimed by no one now.
    if (existing === undefined) return this.claim(valid, ttlSeconds);
    return { claimed: false, existing };
  }

  /**
   * A claim past its TTL but not yet deleted still counts: the TTL only bounds how long the table keeps
   * it (the dedupe window). Its execution's name is unique in Step Functions for 90 days, so no other
   * execution can be started under it meanwhile.
   */
  async claimOf(executionName: string): Promise<StoredExecutionClaim | undefined> {
    parseWith(ExecutionIdSchema, 'execution name', executionName);
    const key = executionClaimKey(executionName);
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { key }, ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    const item = parseItem(ClaimItemSchema, this.tableName, key, Item);
    return {
      executionName: item.executionName,
      requestDigest: item.requestDigest,
      claimedAt: item.claimedAt,
    };
  }
}
