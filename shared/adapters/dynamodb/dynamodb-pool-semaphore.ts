import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { systemClock, type Clock } from '../../domain/clock.js';
import { PoolFullError } from '../../domain/errors.js';
import { LeaseOwnerSchema, PoolIdSchema } from '../../domain/identifiers.js';
import { isLive, poolSlotResource, type Lease } from '../../domain/lease.js';
import { parseWith } from '../../domain/validation.js';
import type { PoolSemaphore } from '../../ports/pool-semaphore.js';
import { LeaseTable } from './lease-table.js';

/** One BatchGetItem reads every slot, so a pool's limit is bounded by its size. */
export const MAX_POOL_LIMIT = 100;

const PoolLimitSchema = z
  .number()
  .int()
  .min(1, 'pool limit must be at least 1')
  .max(MAX_POOL_LIMIT, `pool limit must be at most ${MAX_POOL_LIMIT}`);

/**
 * The semaphore is `limit` lease items, one per slot. Acquiring scans the slots from a random offset so
 * that concurrent acquirers spread over the free slots instead of all racing for slot 0.
 */
export class DynamoDbPoolSemaphore implements PoolSemaphore {
  private readonly leases: LeaseTable;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly leasesTableName: string,
    private readonly clock: Clock = systemClock,
  ) {
    this.leases = new LeaseTable(documents, leasesTableName, clock);
  }

  async acquire(pool: string, owner: string, limit: number, durationMs: number): Promise<Lease> {
    parseWith(PoolIdSchema, 'pool id', pool);
    parseWith(LeaseOwnerSchema, 'lease owner', owner);
    parseWith(PoolLimitSchema, 'pool limit', limit);
    const slots = await this.readSlots(pool, limit);
    const now = this.clock.nowMs();
    const mine = slots.find((s) => s.owner === owner && isLive(s, now));
    if (mine !== undefined) return this.leases.renew(mine, durationMs);

    const offset = Math.floor(Math.random() * limit);
    const holders: string[] = [];
    for (let i = 0; i < limit; i++) {
      const slot = (offset + i) % limit;
      const known = slots.find((s) => s.resource === poolSlotResource(pool, slot));
      if (known !== undefined && isLive(known, now)) {
        holders.push(known.owner);
        continue;
      }
      const result = await this.leases.grant(poolSlotResource(pool, slot), owner, durationMs);
      if ('granted' in result) return result.granted;
      holders.push(result.heldBy.owner);
    }
    throw new PoolFullError(pool, limit, holders);
  }

  renew(lease: Lease, durationMs: number): Promise<Lease> {
    return this.leases.renew(lease, durationMs);
  }

  release(lease: Lease): Promise<void> {
    return this.leases.release(lease);
  }

  async holders(pool: string, limit: number): Promise<Lease[]> {
    parseWith(PoolIdSchema, 'pool id', pool);
    parseWith(PoolLimitSchema, 'pool limit', limit);
    const now = this.clock.nowMs();
    return (await this.readSlots(pool, limit)).filter((s) => isLive(s, now));
  }

  /** Every held slot (live or expired) among the first `limit`, read consistently in one batch. */
  private async readSlots(pool: string, limit: number): Promise<Lease[]> {
    let keys: Record<string, unknown>[] = Array.from({ length: limit }, (_, slot) => ({
      resource: poolSlotResource(pool, slot),
    }));
    const leases: Lease[] = [];
    while (keys.length > 0) {
      const { Responses, UnprocessedKeys } = await this.documents.send(
        new BatchGetCommand({
          RequestItems: { [this.leasesTableName]: { Keys: keys, ConsistentRead: true } },
        }),
      );
      for (const item of Responses?.[this.leasesTableName] ?? []) {
        const resource = String(item['resource']);
        if (item['owner'] !== undefined) leases.push(this.leases.toLease(resource, item));
      }
      keys = UnprocessedKeys?.[this.leasesTableName]?.Keys ?? [];
    }
    return leases;
  }
}
