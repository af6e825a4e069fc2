/**
 * Lease items with fencing tokens, the mechanism under both the host lock and the pool semaphore.
 * A grant is one conditional update that increments the token, so two owners can never hold the same
 * token and a takeover always yields a larger one.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { LeaseLostError, type LeaseHolder } from '../../domain/errors.js';
import { LeaseOwnerSchema } from '../../domain/identifiers.js';
import {
  LeaseDurationSchema,
  LeaseResourceSchema,
  LeaseSchema,
  isLive,
  type Lease,
} from '../../domain/lease.js';
import { parseWith } from '../../domain/validation.js';
import { isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

const LeaseItemSchema = z.object({
  resource: LeaseResourceSchema,
  owner: LeaseOwnerSchema.optional(),
  fencingToken: z.number().int().positive(),
  expiresAtMs: z.number().int().nonnegative(),
  acquiredAtMs: z.number().int().nonnegative().optional(),
});

type LeaseItem = z.output<typeof LeaseItemSchema>;

export type GrantResult = { readonly granted: Lease } | { readonly heldBy: LeaseHolder };

export class LeaseTable {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  /** Grants `resource` to `owner` if free or expired; renews it if `owner` already holds it live. */
  async grant(resource: string, owner: string, durationMs: number): Promise<GrantResult> {
    parseWith(LeaseResourceSchema, 'lease resource', resource);
    parseWith(LeaseOwnerSchema, 'lease owner', owner);
    parseWith(LeaseDurationSchema, 'lease duration', durationMs);
    // A lease released or expired between a refused write and the read that explains it is worth one more try.
    for (let attempt = 1; ; attempt++) {
      const now = this.clock.nowMs();
      const granted = await this.tryGrant(resource, owner, durationMs, now);
      if (granted !== undefined) return { granted };
      const current = await this.read(resource);
      if (current?.owner === owner && isLive(current, now)) {
        return { granted: await this.renew(this.toLease(resource, current), durationMs) };
      }
      if (current?.owner !== undefined && isLive(current, now)) {
        return {
          heldBy: {
            owner: current.owner,
            fencingToken: current.fencingToken,
            expiresAtMs: current.expiresAtMs,
          },
        };
      }
      if (attempt >= 3) {
        return {
          heldBy: { owner: '(contended)', fencingToken: current?.fencingToken ?? 0, expiresAtMs: now },
        };
      }
    }
  }

  private async tryGrant(
    resource: string,
    owner: string,
    durationMs: number,
    now: number,
  ): Promise<Lease | undefined> {
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { resource },
          UpdateExpression:
            'SET #owner = :owner, expiresAtMs = :expires, acquiredAtMs = :now ADD fencingToken :one',
          ConditionExpression: 'attribute_not_exists(#resource) OR expiresAtMs <= :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#resource': 'resource' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':expires': now + durationMs,
            ':now': now,
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.toLease(resource, Attributes);
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
  }

  async renew(lease: Lease, durationMs: number): Promise<Lease> {
    parseWith(LeaseSchema, 'lease', lease);
    parseWith(LeaseDurationSchema, 'lease duration', durationMs);
    const now = this.clock.nowMs();
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { resource: lease.resource },
          UpdateExpression: 'SET expiresAtMs = :expires',
          ConditionExpression: '#owner = :owner AND fencingToken = :token AND expiresAtMs > :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':owner': lease.owner,
            ':token': lease.fencingToken,
            ':now': now,
            ':expires': now + durationMs,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.toLease(lease.resource, Attributes);
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new LeaseLostError(lease.resource, lease.owner, lease.fencingToken);
      throw error;
    }
  }

  /**
   * Marks the lease released but keeps the item, so the next grant's token is larger still.
   * Releasing an already released lease of the same token is a no-op; a lease someone else now holds is not ours to release.
   */
  async release(lease: Lease): Promise<void> {
    parseWith(LeaseSchema, 'lease', lease);
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { resource: lease.resource },
          UpdateExpression: 'SET expiresAtMs = :zero REMOVE #owner',
          ConditionExpression: '#owner = :owner AND fencingToken = :token',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.fencingToken, ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const current = await this.read(lease.resource);
      const alreadyReleased =
        current !== undefined && current.owner === undefined && current.fencingToken === lease.fencingToken;
      if (!alreadyReleased) throw new LeaseLostError(lease.resource, lease.owner, lease.fencingToken);
    }
  }

  /** The live lease on `resource`, if any. */
  async live(resource: string): Promise<Lease | undefined> {
    const item = await this.read(resource);
    if (item?.owner === undefined || !isLive(item, this.clock.nowMs())) return undefined;
    return this.toLease(resource, item);
  }

  async read(resource: string): Promise<LeaseItem | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { resource }, ConsistentRead: true }),
    );
    return Item === undefined ? undefined : parseItem(LeaseItemSchema, this.tableName, resource, Item);
  }

  toLease(resource: string, item: unknown): Lease {
    const parsed = parseItem(LeaseItemSchema, this.tableName, resource, item);
    if (parsed.owner === undefined) throw new LeaseLostError(resource, '(none)', parsed.fencingToken);
    return {
      resource,
      owner: parsed.owner,
      fencingToken: parsed.fencingToken,
      expiresAtMs: parsed.expiresAtMs,
    };
  }
}
