import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { CordonDrainer } from '../../../shared/adapters/drain/cordon-drainer.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { LeaseLostError, StaleHostStateError } from '../../../shared/domain/errors.js';
import type { Host } from '../../../shared/domain/host.js';
import type { Lease } from '../../../shared/domain/lease.js';
import { freshTables } from '../../support/dynamodb.js';

let clock: ManualClock;
let store: Store;
let drainer: CordonDrainer;
let n = 0;

beforeAll(async () => {
  const t = await freshTables();
  clock = new ManualClock();
  store = t.store(clock);
  drainer = new CordonDrainer(store.hosts);
});

interface OwnedHost {
  readonly host: Host;
  readonly executionId: string;
  readonly lock: Lease;
}

/** A registered host, locked by and admitted into an execution: where the workflow is when it drains. */
async function ownedHost(leaseMs = 60_000): Promise<OwnedHost> {
  n += 1;
  const hostId = `cordon-h-${n}`;
  const executionId = `exec-cordon-${n}`;
  await store.hosts.register({
    hostId,
    pool: 'web',
    availabilityZone: 'az-1',
    instanceId: `i-${String(n).padStart(17, '0')}`,
  });
  const lock = await store.hostLock.acquire(hostId, executionId, leaseMs);
  const host = await store.hosts.transition(
    { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId },
    lock,
  );
  return { host, executionId, lock };
}

/** Lets the lease run out and another execution take the lock over: the old lease is now stale. */
async function takeOver(hostId: string, stale: Lease): Promise<void> {
  clock.advance(stale.expiresAtMs - clock.nowMs() + 1);
  await store.hostLock.acquire(hostId, `exec-successor-${hostId}`, 60_000);
}

describe('Class: CordonDrainer', () => {
  describe('Method: drain', () => {
    it('cordons the host in the registry, and isDrained follows the cordon', async () => {
      const { host, executionId, lock } = await ownedHost();
      expect(await drainer.isDrained(host)).toBe(false);
      await drainer.drain(host, executionId, lock);
      const stored = await store.hosts.get(host.hostId);
      expect(stored).toMatchObject({ cordoned: true, state: 'ADMITTED', stateVersion: host.stateVersion });
      expect(await drainer.isDrained(stored)).toBe(true);
    });

    it('draining twice leaves the host exactly as draining once', async () => {
      const { host, executionId, lock } = await ownedHost();
      await drainer.drain(host, executionId, lock);
      const once = await store.hosts.get(host.hostId);
      await drainer.drain(once, executionId, lock);
      expect(await store.hosts.get(host.hostId)).toEqual(once);
    });

    it('refuses a stale lock (expired and taken over) with LeaseLostError and leaves the host uncordoned', async () => {
      const { host, executionId, lock } = await ownedHost(10_000);
      await takeOver(host.hostId, lock);
      await expect(drainer.drain(host, executionId, lock)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.hosts.get(host.hostId)).cordoned).toBe(false);
    });

    it('refuses an execution that does not own the host, even under the live lock', async () => {
      const { host, lock } = await ownedHost();
      await expect(drainer.drain(host, 'exec-intruder', lock)).rejects.toBeInstanceOf(StaleHostStateError);
      expect((await store.hosts.get(host.hostId)).cordoned).toBe(false);
    });
  });

  describe('Method: undrain', () => {
    it('lifts the cordon, and undraining twice leaves the host as undraining once', async () => {
      const { host, executionId, lock } = await ownedHost();
      await drainer.drain(host, executionId, lock);
      await drainer.undrain(await store.hosts.get(host.hostId), executionId, lock);
      const once = await store.hosts.get(host.hostId);
      expect(once.cordoned).toBe(false);
      expect(await drainer.isDrained(once)).toBe(false);
      await drainer.undrain(once, executionId, lock);
      expect(await store.hosts.get(host.hostId)).toEqual(once);
    });

    it('refuses a stale lock with LeaseLostError and keeps the cordon on', async () => {
      const { host, executionId, lock } = await ownedHost(10_000);
      await drainer.drain(host, executionId, lock);
      await takeOver(host.hostId, lock);
      await expect(drainer.undrain(host, executionId, lock)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.hosts.get(host.hostId)).cordoned).toBe(true);
    });
  });

  describe('Method: assertLockHeld', () => {
    it('passes under the live lock and refuses a stale one', async () => {
      const { host, executionId, lock } = await ownedHost(10_000);
      await drainer.assertLockHeld(host, executionId, lock);
      await takeOver(host.hostId, lock);
      await expect(drainer.assertLockHeld(host, executionId, lock)).rejects.toBeInstanceOf(LeaseLostError);
    });
  });
});
