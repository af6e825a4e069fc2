import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';

let t: TestTables;
beforeAll(async () => {
  t = await freshTables();
});

const digest = (n: number) => n.toString(16).padStart(64, '0');

describe('Class: DynamoDbIdempotencyStore', () => {
  describe('Method: claim', () => {
    it('claims an execution once; 10 parallel deliveries of one alarm yield one claim', async () => {
      const store = t.store().idempotency;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.claim({ executionName: 'alarm-h1-0123456789abcdef', requestDigest: digest(i) }, 3600),
        ),
      );
      const winners = results.filter((r) => r.claimed);
      expect(winners).toHaveLength(1);
      const winner = digest(results.findIndex((r) => r.claimed));
      for (const r of results)
        if (!r.claimed)
          expect(r.existing).toMatchObject({
            executionName: 'alarm-h1-0123456789abcdef',
            requestDigest: winner,
          });
    });

    it('lets a name be claimed again once its TTL has passed, though DynamoDB has not deleted it yet', async () => {
      const clock = new ManualClock();
      const store = t.store(clock).idempotency;
      const first = { executionName: 'op-ttl', requestDigest: digest(1) };
      const second = { executionName: 'op-ttl', requestDigest: digest(2) };
      expect(await store.claim(first, 60)).toEqual({ claimed: true });
      clock.advance(59_000);
      expect(await store.claim(second, 60)).toMatchObject({ claimed: false, existing: first });
      clock.advance(2_000);
      expect(await store.claim(second, 60)).toEqual({ claimed: true });
      expect(await store.claimOf('op-ttl')).toMatchObject(second);
    });

    it('refuses malformed names, digests and TTLs and writes nothing', async () => {
      const store = t.store().idempotency;
      const count = async () =>
        (await t.documents.send(new ScanCommand({ TableName: t.tables.idempotency }))).Count;
      const before = await count();
      const ok = { executionName: 'op-x', requestDigest: digest(1) };
      await expect(store.claim({ ...ok, executionName: 'has space' }, 60)).rejects.toThrow(ValidationError);
      await expect(store.claim({ ...ok, requestDigest: 'ABC' }, 60)).rejects.toThrow(ValidationError);
      await expect(store.claim(ok, 0)).rejects.toThrow(ValidationError);
      expect(await count()).toBe(before);
    });
  });

  describe('Method: claimOf', () => {
    it('finds the claim by the execution name alone, and nothing for a name no trigger claimed', async () => {
      const clock = new ManualClock();
      const store = t.store(clock).idempotency;
      await store.claim({ executionName: 'op-found', requestDigest: digest(7) }, 60);
      expect(await store.claimOf('op-found')).toEqual({
        executionName: 'op-found',
        requestDigest: digest(7),
        claimedAt: new Date(clock.nowMs()).toISOString(),
      });
      // Past its TTL, the claim still vouches for the execution it named until DynamoDB deletes it.
      clock.advance(120_000);
      expect(await store.claimOf('op-found')).toMatchObject({ requestDigest: digest(7) });
      expect(await store.claimOf('op-never-claimed')).toBeUndefined();
      await expect(store.claimOf('has space')).rejects.toThrow(ValidationError);
    });
  });
});
