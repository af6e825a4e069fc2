import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import { LeaseLostError, LockHeldError, ValidationError } from '../../../shared/domain/errors.js';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';

let t: TestTables;
let clock: ManualClock;
let store: Store;
let n = 0;
const nextHost = () => `lock-h-${++n}`;

beforeAll(async () => {
  t = await freshTables();
  clock = new ManualClock();
  store = t.store(clock);
});

describe('Class: DynamoDbHostLock', () => {
  it('grants a free lock and refuses a second owner while it is live, naming the holder', async () => {
    const hostId = nextHost();
    const lease = await store.hostLock.acquire(hostId, 'exec-a', 10_000);
    expect(lease).toMatchObject({ owner: 'exec-a', fencingToken: 1, expiresAtMs: clock.nowMs() + 10_000 });
    const second = store.hostLock.acquire(hostId, 'exec-b', 10_000);
    await expect(second).rejects.toThrow(LockHeldError);
    await expect(second).rejects.toThrow(/locked by exec-a \(token 1\)/);
    expect(await store.hostLock.current(hostId)).toEqual(lease);
  });

  it('re-acquiring by the same owner renews the same lease (a retried step), keeping its token', async () => {
    const hostId = nextHost();
    const first = await store.hostLock.acquire(hostId, 'exec-a', 10_000);
    clock.advance(5_000);
    const again = await store.hostLock.acquire(hostId, 'exec-a', 10_000);
    expect(again).toMatchObject({ fencingToken: first.fencingToken, expiresAtMs: clock.nowMs() + 10_000 });
  });

  it('lets another owner take an expired lease over with a larger token, and fences the stale owner', async () => {
    const hostId = nextHost();
    await registerHost(store, hostId);
    const stale = await store.hostLock.acquire(hostId, 'exec-stale', 10_000);
    clock.advance(10_001);
    const fresh = await store.hostLock.acquire(hostId, 'exec-fresh', 10_000);
    expect(fresh.fencingToken).toBeGreaterThan(stale.fencingToken);

    // The stale owner wakes up and tries to carry on: every write under its lease is refused.
    await expect(
      store.hosts.transition(
        { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-stale' },
        stale,
      ),
    ).rejects.toThrow(LeaseLostError);
    await expect(store.hostLock.renew(stale, 10_000)).rejects.toThrow(LeaseLostError);
    await expect(store.hostLock.release(stale)).rejects.toThrow(LeaseLostError);

    expect(await store.hosts.get(hostId)).toMatchObject({ state: 'IN_SERVICE', stateVersion: 0 });
    expect(await store.hostLock.current(hostId)).toEqual(fresh);
    await store.hosts.transition(
      { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-fresh' },
      fresh,
    );
    expect((await store.hosts.get(hostId)).executionId).toBe('exec-fresh');
  });

  it('refuses writes under a lease that expired even if nobody took over', async () => {
    const hostId = nextHost();
    await registerHost(store, hostId);
    const lease = await store.hostLock.acquire(hostId, 'exec-a', 10_000);
    clock.advance(10_000);
    await expect(
      store.hosts.transition(
        { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-a' },
        lease,
      ),
    ).rejects.toThrow(LeaseLostError);
    expect(await store.hostLock.current(hostId)).toBeUndefined();
  });

  it('release frees the lock for the next owner, is idempotent, and never lowers the token', async () => {
    const hostId = nextHost();
    const lease = await store.hostLock.acquire(hostId, 'exec-a', 10_000);
    await store.hostLock.release(lease);
    await store.hostLock.release(lease);
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    const next = await store.hostLock.acquire(hostId, 'exec-b', 10_000);
    expect(next.fencingToken).toBe(lease.fencingToken + 1);
  });

  it('renew extends a live lease', async () => {
    const hostId = nextHost();
    const lease = await store.hostLock.acquire(hostId, 'exec-a', 10_000);
    clock.advance(9_000);
    const renewed = await store.hostLock.renew(lease, 10_000);
    clock.advance(9_000);
    expect(await store.hostLock.current(hostId)).toEqual(renewed);
  });

  it('of 10 concurrent acquirers, exactly one wins', async () => {
    const hostId = nextHost();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => store.hostLock.acquire(hostId, `exec-${i}`, 10_000)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockHeldError);
  });

  it.each([
    ['an empty owner', 'h', '', 10_000],
    ['a host id with a slash', 'a/b', 'o', 10_000],
    ['a zero duration', 'h', 'o', 0],
    ['a duration over a day', 'h', 'o', 25 * 3600 * 1000],
  ])('refuses %s', async (_what, hostId, owner, duration) => {
    await expect(store.hostLock.acquire(hostId, owner, duration)).rejects.toThrow(ValidationError);
  });
});
