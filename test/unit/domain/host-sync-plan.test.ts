import { describe, expect, it } from 'vitest';
import type { Host } from '../../../shared/domain/host.js';
import { planHostSync, type ManagedInstanceView } from '../../../shared/domain/host-sync-plan.js';

const AT = '2026-11-30T10:00:00.000Z';

function host(hostId: string, instanceId: string, extra: Partial<Host> = {}): Host {
  return {
    hostId,
    pool: 'web',
    availabilityZone: 'local-1a',
    instanceId,
    state: 'IN_SERVICE',
    stateVersion: 3,
    cordoned: false,
    tags: {},
    createdAt: AT,
    updatedAt: AT,
    ...extra,
  };
}

const managed = (
  instanceId: string,
  tags: Record<string, string> = {},
  pingStatus = 'Online',
): ManagedInstanceView => ({
  instanceId,
  pingStatus,
  tags: { 'rejuv:managed': 'true', 'rejuv:pool': 'web', ...tags },
});

const I1 = 'mi-00000000000000001';
const I2 = 'mi-00000000000000002';

describe('Function: planHostSync', () => {
  it('registers a new managed instance under its instance id, or its valid host-id tag', () => {
    const plan = planHostSync(
      [],
      [managed(I1), managed(I2, { 'rejuv:host-id': 'host-b', 'rejuv:availability-zone': 'eu-west-1a' })],
    );
    expect(plan.actions).toEqual([
      { kind: 'register', instanceId: I1, hostId: I1, pool: 'web', availabilityZone: 'unknown' },
      { kind: 'register', instanceId: I2, hostId: 'host-b', pool: 'web', availabilityZone: 'eu-west-1a' },
    ]);
  });

  it('judges neither an instance whose tags could not be read nor its host, and reports it', () => {
    const unread = {
      instanceId: I1,
      pingStatus: 'Online',
      tags: {},
      unreadable: 'SSM refused ListTagsForResource',
    };
    const plan = planHostSync(
      [host('host-a', I1)],
      [unread, { ...unread, instanceId: 'mi-00000000000000003' }, managed(I2)],
    );
    // Read as untagged, host-a would be marked no longer managed; the unread new instance is not registered.
    expect(plan.actions).toEqual([
      { kind: 'unreadable', instanceId: I1, reason: 'SSM refused ListTagsForResource' },
      { kind: 'unreadable', instanceId: 'mi-00000000000000003', reason: 'SSM refused ListTagsForResource' },
      { kind: 'register', instanceId: I2, hostId: I2, pool: 'web', availabilityZone: 'unknown' },
    ]);
  });

  it('refuses hostile or missing tags per instance, with a reason, and registers the others', () => {
    const plan = planHostSync(
      [],
      [
        managed(I1, { 'rejuv:pool': '../etc; rm -rf /' }),
        managed(I2, { 'rejuv:host-id': '-bad id' }),
        { instanceId: 'mi-00000000000000003', pingStatus: 'Online', tags: { 'rejuv:managed': 'true' } },
        managed('mi-00000000000000004', { 'rejuv:availability-zone': 'EU WEST' }),
        managed('mi-00000000000000005'),
      ],
    );
    const refused = plan.actions.filter((a) => a.kind === 'refuse');
    expect(refused.map((a) => a.instanceId)).toEqual([
      I1,
      I2,
      'mi-00000000000000003',
      'mi-00000000000000004',
    ]);
    expect(refused[0]).toMatchObject({ reason: expect.stringContaining('is not a pool id') });
    expect(refused[1]).toMatchObject({ reason: expect.stringContaining('is not a host id') });
    expect(refused[2]).toMatchObject({ reason: 'no rejuv:pool tag' });
    expect(plan.actions.filter((a) => a.kind === 'register').map((a) => a.instanceId)).toEqual([
      'mi-00000000000000005',
    ]);
  });

  it('does not register an instance whose managed tag is not "true"', () => {
    expect(planHostSync([], [managed(I1, { 'rejuv:managed': 'false' })]).actions).toEqual([]);
  });

  it('refuses a host id already registered for another instance, or claimed twice', () => {
    const plan = planHostSync(
      [host('host-a', 'mi-000000000000000aa')],
      [
        managed('mi-000000000000000aa'),
        managed(I1, { 'rejuv:host-id': 'host-a' }),
        managed(I2, { 'rejuv:host-id': 'twin' }),
        managed('mi-00000000000000003', { 'rejuv:host-id': 'twin' }),
      ],
    );
    expect(plan.actions.map((a) => a.kind)).toEqual(['refuse', 'refuse', 'refuse']);
    expect(plan.actions[0]).toMatchObject({
      instanceId: I1,
      reason: expect.stringContaining('already registered'),
    });
  });

  it('marks an IN_SERVICE host unavailable when offline, or when untagged or gone from SSM', () => {
    const a = host('a', I1);
    const b = host('b', I2);
    const c = host('c', 'mi-00000000000000003');
    const plan = planHostSync(
      [a, b, c],
      [managed(I1, {}, 'ConnectionLost'), managed(I2, { 'rejuv:managed': 'no' })],
    );
    expect(plan.actions).toEqual([
      { kind: 'mark-unavailable', host: a, unavailable: { reason: 'offline' } },
      { kind: 'mark-unavailable', host: b, unavailable: { reason: 'not-managed' } },
      { kind: 'mark-unavailable', host: c, unavailable: { reason: 'not-managed' } },
    ]);
  });

  it('marks a host available again once it is online and managed; an unchanged one is left alone', () => {
    const back = host('a', I1, { unavailable: { reason: 'offline', since: AT } });
    const still = host('b', I2, { unavailable: { reason: 'offline', since: AT } });
    const plan = planHostSync([back, still], [managed(I1), managed(I2, {}, 'ConnectionLost')]);
    expect(plan.actions).toEqual([{ kind: 'mark-available', host: back }]);
  });

  it('never writes a host mid-lifecycle, owned or QUARANTINED: it only observes', () => {
    const reloading = host('a', I1, { state: 'RELOADING', executionId: 'exec-1' });
    const quarantined = host('b', I2, { state: 'QUARANTINED', quarantineReason: 'vm2 lost' });
    const admittedOwned = host('c', 'mi-00000000000000003', { state: 'IN_SERVICE', executionId: 'exec-2' });
    const plan = planHostSync([reloading, quarantined, admittedOwned], [managed(I1, {}, 'ConnectionLost')]);
    expect(plan.actions).toEqual([
      { kind: 'observe', host: reloading, observation: 'offline' },
      { kind: 'observe', host: quarantined, observation: 'not-managed' },
      { kind: 'observe', host: admittedOwned, observation: 'not-managed' },
    ]);
    expect(plan.actions.some((a) => a.kind === 'mark-unavailable' || a.kind === 'register')).toBe(false);
  });
});
