/**
 * The sync's writes on DynamoDB Local: every change is audited even when the function dies between its
 * audit record and its write, and a retried run neither duplicates the record nor skips the change.
 */
import { describe, expect, it } from 'vitest';
import { hostChainId } from '../../../shared/domain/audit-record.js';
import type { ManagedInstanceView } from '../../../shared/domain/host-sync-plan.js';
import { syncHosts, type HostSyncDeps } from '../../../shared/onboarding/sync-hosts.js';
import { systemClock } from '../../../shared/domain/clock.js';
import { freshTables } from '../../support/dynamodb.js';

const instance = (id: string, online: boolean): ManagedInstanceView => ({
  instanceId: id,
  pingStatus: online ? 'Online' : 'ConnectionLost',
  tags: { 'rejuv:managed': 'true', 'rejuv:pool': 'web' },
});

describe('Use case: syncHosts', () => {
  it('a crash between the intent and the write: the next run makes the change once, audited once', async () => {
    const store = (await freshTables()).store();
    let seen: ManagedInstanceView[] = [instance('mi-00000000000000b01', true)];
    const deps: HostSyncDeps = {
      hosts: store.hosts,
      audit: store.audit,
      instances: { listTagged: async () => seen },
      clock: systemClock,
    };
    await syncHosts(deps);
    seen = [instance('mi-00000000000000b01', false)];

    let crash = true;
    const crashing: HostSyncDeps = {
      ...deps,
      hosts: new Proxy(store.hosts, {
        get: (target, prop, receiver) =>
          prop === 'setAvailability' && crash
            ? () => {
                crash = false;
                return Promise.reject(new Error('Runtime exited'));
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(syncHosts(crashing)).rejects.toThrow('Runtime exited');
    const afterCrash = [];
    for await (const r of store.audit.read(hostChainId('mi-00000000000000b01'))) afterCrash.push(r);
    expect(afterCrash.at(-1)).toMatchObject({ outcome: 'started', detail: { change: 'mark-unavailable' } });

    const retried = await syncHosts(deps);
    expect(retried.markedUnavailable).toEqual(['mi-00000000000000b01']);
    const chain = [];
    for await (const r of store.audit.read(hostChainId('mi-00000000000000b01'))) chain.push(r);
    expect(chain.map((r) => `${r.outcome}:${String(r.detail?.['change'])}`)).toEqual([
      'started:register',
      'succeeded:register',
      'started:mark-unavailable',
      'succeeded:mark-unavailable',
    ]);
    expect((await store.hosts.get('mi-00000000000000b01')).unavailable).toMatchObject({ reason: 'offline' });
  });

  it('a host deregistered and registered again by the sync gets records of its own; a crashed register completes once', async () => {
    const store = (await freshTables()).store();
    const id = 'mi-00000000000000b02';
    const deps: HostSyncDeps = {
      hosts: store.hosts,
      audit: store.audit,
      instances: { listTagged: async () => [instance(id, true)] },
      clock: systemClock,
    };
    await syncHosts(deps);
    const host = await store.hosts.get(id);
    await store.hosts.deregister(id, host.stateVersion);

    let crash = true;
    const crashing: HostSyncDeps = {
      ...deps,
      hosts: new Proxy(store.hosts, {
        get: (target, prop, receiver) =>
          prop === 'register' && crash
            ? () => {
                crash = false;
                return Promise.reject(new Error('Runtime exited'));
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(syncHosts(crashing)).rejects.toThrow('Runtime exited');
    expect((await syncHosts(deps)).registered).toEqual([id]);
    const chain = [];
    for await (const r of store.audit.read(hostChainId(id))) chain.push(r);
    expect(chain.map((r) => `${r.outcome}:${String(r.detail?.['change'])}`)).toEqual([
      'started:register',
      'succeeded:register',
      'started:register',
      'succeeded:register',
    ]);
    expect(await store.audit.verify(hostChainId(id))).toMatchObject({ ok: true });
  });
});
