import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import { PoolFullError, ValidationError } from '../../../shared/domain/errors.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';

let t: TestTables;

beforeAll(async () => {
  t = await freshTables();
});

describe('Class: DynamoDbPoolSemaphore', () => {
  it('50 concurrent acquirers on a limit of 5: never more than 5 holders, and all 50 get through', async () => {
    const semaphore = t.store().poolSemaphore;
    let holding = 0;
    let maxHolding = 0;
    let done = 0;
    const worker = async (i: number): Promise<void> => {
      const owner = `exec-${i}`;
      for (;;) {
        try {
          const lease = await semaphore.acquire('soak', owner, 5, 30_000);
          holding += 1;
          maxHolding = Math.max(maxHolding, holding);
          await sleep(5 + Math.random() * 15);
          holding -= 1;
          await semaphore.release(lease);
          done += 1;
          return;
        } catch (error) {
          if (!(error instanceof PoolFullError)) throw error;
          await sleep(5 + Math.random() * 20);
        }
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => worker(i)));
    expect(done).toBe(50);
    expect(maxHolding).toBeLessThanOrEqual(5);
    expect(maxHolding).toBeGreaterThan(1);
    expect(await semaphore.holders('soak', 5)).toEqual([]);
  });

  it('refuses a sixth holder, naming the five, and gives the same owner back its own slot', async () => {
    const semaphore = t.store().poolSemaphore;
    const leases = [];
    for (let i = 0; i < 5; i++) leases.push(await semaphore.acquire('full', `exec-${i}`, 5, 30_000));
    expect(new Set(leases.map((l) => l.resource)).size).toBe(5);
    const sixth = semaphore.acquire('full', 'exec-5', 5, 30_000);
    await expect(sixth).rejects.toThrow(PoolFullError);
    await expect(sixth).rejects.toThrow(/pool full already has 5 host\(s\) in maintenance/);
    const again = await semaphore.acquire('full', 'exec-3', 5, 30_000);
    expect(again.resource).toBe(leases[3]?.resource);
  });

  it('a crashed holder does not leak its slot: it frees up when the lease expires', async () => {
    const clock = new ManualClock();
    const semaphore = t.store(clock).poolSemaphore;
    const crashed = await semaphore.acquire('leak', 'exec-crashed', 1, 10_000);
    await expect(semaphore.acquire('leak', 'exec-next', 1, 10_000)).rejects.toThrow(PoolFullError);
    clock.advance(10_001);
    const next = await semaphore.acquire('leak', 'exec-next', 1, 10_000);
    expect(next.resource).toBe(crashed.resource);
    expect(next.fencingToken).toBeGreaterThan(crashed.fencingToken);
    await expect(semaphore.release(crashed)).rejects.toThrow(/no longer valid/);
  });

  it('refuses a limit out of bounds', async () => {
    const semaphore = t.store().poolSemaphore;
    await expect(semaphore.acquire('p', 'o', 0, 10_000)).rejects.toThrow(ValidationError);
    await expect(semaphore.acquire('p', 'o', 101, 10_000)).rejects.toThrow(/at most 100/);
  });
});
