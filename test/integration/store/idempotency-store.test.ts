import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import { alarmIdempotencyKey } from '../../../shared/domain/idempotency-key.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';

let t: TestTables;
beforeAll(async () => {
  t = await freshTables();
});

describe('Class: DynamoDbIdempotencyStore', () => {
  it('claims a key once; 10 parallel deliveries of one alarm yield one claim', async () => {
    const store = t.store().idempotency;
    const key = alarmIdempotencyKey('aging-h1', '2026-11-25T01:00:00.000+0000');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.claim(key, `exec-${i}`, 3600)),
    );
    const winners = results.filter((r) => r.claimed);
    expect(winners).toHaveLength(1);
    const winner = `exec-${results.findIndex((r) => r.claimed)}`;
    for (const r of results) if (!r.claimed) expect(r.existingValue).toBe(winner);
  });

  it('lets a key be claimed again once its TTL has passed, though DynamoDB has not deleted it yet', async () => {
    const clock = new ManualClock();
    const store = t.store(clock).idempotency;
    expect(await store.claim('k-ttl', 'first', 60)).toEqual({ claimed: true });
    clock.advance(59_000);
    expect(await store.claim('k-ttl', 'second', 60)).toMatchObject({
      claimed: false,
      existingValue: 'first',
    });
    clock.advance(2_000);
    expect(await store.claim('k-ttl', 'second', 60)).toEqual({ claimed: true });
  });

  it('refuses malformed keys and TTLs and writes nothing', async () => {
    const store = t.store().idempotency;
    const count = async () =>
      (await t.documents.send(new ScanCommand({ TableName: t.tables.idempotency }))).Count;
    const before = await count();
    await expect(store.claim('has space', 'v', 60)).rejects.toThrow(ValidationError);
    await expect(store.claim('k', 'v', 0)).rejects.toThrow(ValidationError);
    await expect(store.claim('k', '', 60)).rejects.toThrow(ValidationError);
    expect(await count()).toBe(before);
  });
});
