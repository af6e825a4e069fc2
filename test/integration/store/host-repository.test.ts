import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CorruptItemError,
  HostAlreadyRegisteredError,
  HostNotFoundError,
  IllegalTransitionError,
  LeaseLostError,
  StaleHostStateError,
  ValidationError,
} from '../../../shared/domain/errors.js';
import { HOST_STATES, isLegalTransition, type HostState } from '../../../shared/domain/host-state.js';
import type { Lease } from '../../../shared/domain/lease.js';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';

let t: TestTables;
let store: Store;
let hostCounter = 0;

beforeAll(async () => {
  t = await freshTables();
  store = t.store();
});

async function newHost(pool = 'web'): Promise<{ hostId: string; lease: Lease }> {
  const hostId = `h-${++hostCounter}`;
  await registerHost(store, hostId, pool);
  const lease = await store.hostLock.acquire(hostId, 'exec-1', 60_000);
  return { hostId, lease };
}

/** Puts a registered host straight into `state`, owned by exec-1, as if earlier steps had run. */
async function placeIn(hostId: string, state: HostState, version = 7): Promise<void> {
  const host = await store.hosts.get(hostId);
  const owned = state !== 'IN_SERVICE' && state !== 'QUARANTINED';
  await t.documents.send(
    new PutCommand({
      TableName: t.tables.hosts,
      Item: {
        ...host,
        state,
        stateVersion: version,
        ...(owned ? { executionId: 'exec-1' } : {}),
        ...(state === 'QUARANTINED' ? { quarantineReason: 'seeded', executionId: 'exec-0' } : {}),
      },
    }),
  );
}

async function rawHosts(): Promise<unknown[]> {
  return (
    (await t.documents.send(new ScanCommand({ TableName: t.tables.hosts, ConsistentRead: true }))).Items ?? []
  );
}

describe('Class: DynamoDbHostRepository', () => {
  describe('Method: register', () => {
    it('stores a new host IN_SERVICE at version 0 and finds it by pool', async () => {
      const { hostId } = await newHost('db');
      expect(await store.hosts.get(hostId)).toMatchObject({
        hostId,
        pool: 'db',
        state: 'IN_SERVICE',
        stateVersion: 0,
        cordoned: false,
      });
      expect((await store.hosts.listByPool('db')).map((h) => h.hostId)).toEqual([hostId]);
    });

    it('lists every host, across pools, ordered by id', async () => {
      const b = await newHost('list-b');
      const a = await newHost('list-a');
      const listed = (await store.hosts.list()).map((h) => h.hostId);
      const ours = listed.filter((id) => id === a.hostId || id === b.hostId);
      expect(ours).toEqual([a.hostId, b.hostId].sort());
      expect(listed).toEqual([...listed].sort());
    });

    it('refuses to register the same host twice and keeps the first record', async () => {
      const { hostId } = await newHost();
      await expect(
        store.hosts.register({
          hostId,
          pool: 'other',
          availabilityZone: 'az-9',
          instanceId: 'mi-00000000000000099',
        }),
      ).rejects.toThrow(HostAlreadyRegisteredError);
      expect((await store.hosts.get(hostId)).pool).toBe('web');
    });

    it('throws HostNotFoundError for an unknown host', async () => {
      await expect(store.hosts.get('nope')).rejects.toThrow(HostNotFoundError);
    });
  });

  describe('Method: transition, over every (from, to) pair', () => {
    const pairs = HOST_STATES.flatMap((from) => HOST_STATES.map((to) => [from, to] as const));
    it.each(pairs)('%s -> %s', async (from, to) => {
      const { hostId, lease } = await newHost();
      await placeIn(hostId, from);
      const request = { hostId, from, to, expectedVersion: 7, executionId: 'exec-1', reason: 'test' };
      if (isLegalTransition(from, to)) {
        const host = await store.hosts.transition(request, lease);
        expect(host).toMatchObject({
          state: to,
          stateVersion: 8,
          lastTransition: { from, to, executionId: 'exec-1' },
        });
        expect(host.executionId).toBe(to === 'IN_SERVICE' ? undefined : 'exec-1');
        expect(host.quarantineReason).toBe(to === 'QUARANTINED' ? 'test' : undefined);
      } else {
        await expect(store.hosts.transition(request, lease)).rejects.toThrow(IllegalTransitionError);
        expect(await store.hosts.get(hostId)).toMatchObject({ state: from, stateVersion: 7 });
      }
    });
  });

  describe('Method: transition, conditions', () => {
    it('replays a transition that already took effect without moving the host again', async () => {
      const { hostId, lease } = await newHost();
      const request = {
        hostId,
        from: 'IN_SERVICE',
        to: 'ADMITTED',
        expectedVersion: 0,
        executionId: 'exec-1',
      } as const;
      const first = await store.hosts.transition(request, lease);
      const replay = await store.hosts.transition(request, lease);
      expect(replay).toEqual(first);
      expect(replay.stateVersion).toBe(1);
    });

    it('refuses a stale version, naming what it expected and what it found', async () => {
      const { hostId, lease } = await newHost();
      await store.hosts.transition(
        { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-1' },
        lease,
      );
      await store.hosts.transition(
        { hostId, from: 'ADMITTED', to: 'DRAINING', expectedVersion: 1, executionId: 'exec-1' },
        lease,
      );
      const stale = store.hosts.transition(
        { hostId, from: 'ADMITTED', to: 'DRAINING', expectedVersion: 0, executionId: 'exec-1' },
        lease,
      );
      await expect(stale).rejects.toThrow(StaleHostStateError);
      await expect(stale).rejects.toThrow(/DRAINING@v2 owned by exec-1, expected ADMITTED@v0/);
      expect(await store.hosts.get(hostId)).toMatchObject({ state: 'DRAINING', stateVersion: 2 });
    });

    it('refuses a step of another execution, even at the right state and version', async () => {
      const { hostId, lease } = await newHost();
      await store.hosts.transition(
        { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-1' },
        lease,
      );
      await expect(
        store.hosts.transition(
          { hostId, from: 'ADMITTED', to: 'DRAINING', expectedVersion: 1, executionId: 'exec-2' },
          lease,
        ),
      ).rejects.toThrow(StaleHostStateError);
      expect(await store.hosts.get(hostId)).toMatchObject({ state: 'ADMITTED', executionId: 'exec-1' });
    });

    it('of two racing identical steps from different executions, moves the host exactly once', async () => {
      const { hostId, lease } = await newHost();
      const attempts = await Promise.allSettled(
        ['exec-a', 'exec-b', 'exec-c'].map((executionId) =>
          store.hosts.transition(
            { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId },
            lease,
          ),
        ),
      );
      expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
      expect(
        attempts.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason),
      ).toEqual([expect.any(StaleHostStateError), expect.any(StaleHostStateError)]);
      expect((await store.hosts.get(hostId)).stateVersion).toBe(1);
    });

    it('refuses a lease for another host', async () => {
      const { hostId } = await newHost();
      const { lease: otherLease } = await newHost();
      await expect(
        store.hosts.transition(
          { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-1' },
          otherLease,
        ),
      ).rejects.toThrow(LeaseLostError);
    });
  });

  describe('Method: deregister', () => {
    it('removes an unowned IN_SERVICE host at its version and returns it as it was', async () => {
      const { hostId } = await newHost();
      const before = await store.hosts.get(hostId);
      expect(await store.hosts.deregister(hostId, 0)).toEqual(before);
      await expect(store.hosts.get(hostId)).rejects.toThrow(HostNotFoundError);
    });

    it('removes a QUARANTINED host, which keeps the id of the execution that quarantined it', async () => {
      const { hostId } = await newHost();
      await placeIn(hostId, 'QUARANTINED', 5);
      await store.hosts.deregister(hostId, 5);
      await expect(store.hosts.get(hostId)).rejects.toThrow(HostNotFoundError);
    });

    it.each(HOST_STATES.filter((s) => s !== 'IN_SERVICE' && s !== 'QUARANTINED'))(
      'refuses a host %s (owned by an execution) and leaves it as it is',
      async (state) => {
        const { hostId } = await newHost();
        await placeIn(hostId, state, 3);
        const before = await store.hosts.get(hostId);
        await expect(store.hosts.deregister(hostId, 3)).rejects.toThrow(StaleHostStateError);
        expect(await store.hosts.get(hostId)).toEqual(before);
      },
    );

    it('refuses a stale version, naming what it found', async () => {
      const { hostId } = await newHost();
      await placeIn(hostId, 'QUARANTINED', 5);
      await expect(store.hosts.deregister(hostId, 4)).rejects.toThrow(/is QUARANTINED@v5/);
      expect((await store.hosts.get(hostId)).state).toBe('QUARANTINED');
    });

    it('refuses an unknown host', async () => {
      await expect(store.hosts.deregister('nowhere', 0)).rejects.toThrow(HostNotFoundError);
    });
  });

  describe('bad input', () => {
    it.each([
      ['an unknown state', { to: 'REBOOTING' }],
      ['an empty host id', { hostId: '' }],
      ['an empty execution id', { executionId: '' }],
      ['a fractional version', { expectedVersion: 1.5 }],
      ['a version of the wrong type', { expectedVersion: '0' }],
      ['an oversized reason', { to: 'QUARANTINED', from: 'ADMITTED', reason: 'x'.repeat(5000) }],
    ])('refuses a transition with %s and writes nothing', async (_what, override) => {
      const { hostId, lease } = await newHost();
      const before = await rawHosts();
      await expect(
        store.hosts.transition(
          {
            hostId,
            from: 'IN_SERVICE',
            to: 'ADMITTED',
            expectedVersion: 0,
            executionId: 'exec-1',
            ...override,
          } as never,
          lease,
        ),
      ).rejects.toThrow(ValidationError);
      expect(await rawHosts()).toEqual(before);
    });

    it('refuses a malformed registration and writes nothing', async () => {
      const before = await rawHosts();
      await expect(
        store.hosts.register({
          hostId: 'ok',
          pool: 'web',
          availabilityZone: 'AZ 1',
          instanceId: 'mi-00000000000000001',
        }),
      ).rejects.toThrow(/availabilityZone/);
      expect(await rawHosts()).toEqual(before);
    });

    it('reports a stored item edited behind its back as corrupt, naming it', async () => {
      const { hostId } = await newHost();
      const host = await store.hosts.get(hostId);
      await t.documents.send(
        new PutCommand({ TableName: t.tables.hosts, Item: { ...host, state: 'HACKED' } }),
      );
      await expect(store.hosts.get(hostId)).rejects.toThrow(CorruptItemError);
      await expect(store.hosts.get(hostId)).rejects.toThrow(new RegExp(`hostId=${hostId}.*state`));
    });

    it('refuses to move a record edited behind its back, and writes nothing', async () => {
      // The transition's conditions check only state, version and owner: the record is read first.
      const { hostId, lease } = await newHost();
      const host = await store.hosts.get(hostId);
      await t.documents.send(
        new PutCommand({ TableName: t.tables.hosts, Item: { ...host, pool: 'no such pool!' } }),
      );
      const before = await rawHosts();
      await expect(
        store.hosts.transition(
          { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-1' },
          lease,
        ),
      ).rejects.toThrow(CorruptItemError);
      expect(await rawHosts()).toEqual(before);
    });

    it('refuses a map member named __proto__, which would pass its members off as stored', async () => {
      const { hostId, lease } = await newHost();
      await store.hosts.transition(
        { hostId, from: 'IN_SERVICE', to: 'ADMITTED', expectedVersion: 0, executionId: 'exec-1' },
        lease,
      );
      const host = await store.hosts.get(hostId);
      const { at, ...withoutAt } = host.lastTransition ?? {};
      expect(at).toBeDefined();
      // An own member named __proto__, as another tool can store it; only the wire format can carry it.
      const item = marshall({ ...host, lastTransition: withoutAt });
      const lastTransition = item['lastTransition']?.M ?? {};
      Object.defineProperty(lastTransition, '__proto__', {
        value: { M: marshall({ at }) },
        enumerable: true,
      });
      await t.client.send(new PutItemCommand({ TableName: t.tables.hosts, Item: item }));
      await expect(store.hosts.get(hostId)).rejects.toThrow(/lastTransition: a map member named __proto__/);
    });
  });
});
