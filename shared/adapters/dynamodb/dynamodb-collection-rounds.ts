/**
 * CollectionRounds in the idempotency table: one item, `aging-collection#latest`, moved from round to
 * round by conditional writes. The key prefix is the collector's own, and its role may write no other
 * key of the table (an IAM condition on dynamodb:LeadingKeys), so it can never forge an execution claim.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { CollectionRound, CollectionRounds } from '../../ports/collection-rounds.js';
import { isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

/** Every key the collector writes starts with this (the IAM condition names it). */
export const COLLECTION_KEY_PREFIX = 'aging-collection#';
const LATEST_KEY = `${COLLECTION_KEY_PREFIX}latest`;

const RoundKeySchema = z.iso.datetime();

const LatestItemSchema = z.object({
  key: z.literal(LATEST_KEY),
  roundKey: RoundKeySchema,
  commandId: z
    .string()
    .regex(/^[A-Za-z0-9-]{36}$/)
    .optional(),
  startedAt: z.iso.datetime(),
  publishedAt: z.iso.datetime().optional(),
});

export class DynamoDbCollectionRounds implements CollectionRounds {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async latest(): Promise<CollectionRound | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { key: LATEST_KEY }, ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    const { key: _key, ...round } = parseItem(LatestItemSchema, this.tableName, LATEST_KEY, Item);
    return round;
  }

  async claimPublication(roundKey: string, at: Date): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { key: LATEST_KEY },
        UpdateExpression: 'SET publishedAt = :at',
        ConditionExpression: 'roundKey = :round AND attribute_not_exists(publishedAt)',
        ExpressionAttributeValues: { ':round': RoundKeySchema.parse(roundKey), ':at': at.toISOString() },
      }),
    );
  }

  async begin(roundKey: string, previousRoundKey: string | undefined, at: Date): Promise<boolean> {
    return this.conditional(
      new PutCommand({
        TableName: this.tableName,
        Item: { key: LATEST_KEY, roundKey: RoundKeySchema.parse(roundKey), startedAt: at.toISOString() },
        ...(previousRoundKey === undefined
          ? { ConditionExpression: 'attribute_not_exists(#key)', ExpressionAttributeNames: { '#key': 'key' } }
          : {
              ConditionExpression: 'roundKey = :previous',
              ExpressionAttributeValues: { ':previous': previousRoundKey },
            }),
      }),
    );
  }

  async recordCommand(roundKey: string, commandId: string): Promise<void> {
    await this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { key: LATEST_KEY },
        UpdateExpression: 'SET commandId = :command',
        ConditionExpression: 'roundKey = :round',
        ExpressionAttributeValues: { ':round': roundKey, ':command': commandId },
      }),
    );
  }

  /** Runs a conditional write: false when its condition did not hold. */
  private async conditional(command: PutCommand | UpdateCommand): Promise<boolean> {
    try {
      await (command instanceof PutCommand ? this.documents.send(command) : this.documents.send(command));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
