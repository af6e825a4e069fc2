import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/document-client.js';
import { hostChainId } from '../../shared/domain/audit-record.js';
import type { HostSyncResult } from '../../shared/onboarding/sync-hosts.js';

let env: LocalEnvironment;

beforeAll(async () => {
  env = await startLocalEnvironment();
});

// Every call the sync made was one its deployed role may make: IAM refused nothing.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
});

/** What EventBridge's schedule delivers; the sync does not read it. */
const scheduledEvent = {
  version: '0',
  id: 'sched-1',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time: '2026-11-30T10:00:00Z',
  region: 'local',
  resources: ['arn:aws:events:local:000000000000:rule/HostSyncSchedule'],
  detail: {},
};

const sync = async () => (await env.lambda.invoke('HostSyncFunction', scheduledEvent)) as HostSyncResult;

/** A host known to SSM only: its root a directory, never sent a command here. */
async function ssmOnly(instanceId: string, tags: Record<string, string>): Promise<void> {
  env.ssm.registerHost(instanceId, await mkdtemp(join(tmpdir(), 'rejuv-sync-')), tags);
}

const MANAGED = (pool: string) => ({ 'rejuv:managed': 'true', 'rejuv:pool': pool });

async function chainSteps(hostId: string) {
  const records = [];
  for await (const r of env.store.audit.read(hostChainId(hostId))) records.push(r);
  return records;
}

describe('End to end: the host sync onboards from SSM', () => {
  it('registers tagged instances, marks untagged or offline ones, leaves busy hosts alone, refuses hostile tags', async () => {
    await ssmOnly('mi-0000000000000a001', MANAGED('sync'));
    await ssmOnly('mi-0000000000000a002', { ...MANAGED('sync'), 'rejuv:host-id': 'sync-b' });
    await ssmOnly('mi-0000000000000a003', { ...MANAGED('sync'), 'rejuv:host-id': 'sync-busy' });
    await ssmOnly('mi-0000000000000a004', { ...MANAGED('sync'), 'rejuv:host-id': 'sync-quarantined' });
    await ssmOnly('mi-0000000000000a005', { 'rejuv:managed': 'true', 'rejuv:pool': 'x; rm -rf /' });
    await ssmOnly('mi-0000000000000a006', { 'rejuv:pool': 'sync' });

    const first = await sync();
    expect(first.registered.sort()).toEqual([
      'mi-0000000000000a001',
      'sync-b',
      'sync-busy',
      'sync-quarantined',
    ]);
    expect(first.refused).toEqual([
      { instanceId: 'mi-0000000000000a005', reason: expect.stringContaining('is not a pool id') },
    ]);
    const registered = await env.store.hosts.get('sync-b');
    expect(registered).toMatchObject({
      pool: 'sync',
      instanceId: 'mi-0000000000000a002',
      state: 'IN_SERVICE',
    });
    expect(registered.unavailable).toBeUndefined();
    const registration = await chainSteps('sync-b');
    // The intent first, then the change: a crash between the two leaves the intent on record.
    expect(registration.map((r) => r.outcome)).toEqual(['started', 'succeeded']);
    expect(registration[1]).toMatchObject({
      step: 'HostSync',
      principal: 'rejuv:host-sync',
      toState: 'IN_SERVICE',
    });
    await expect(env.store.hosts.get('mi-0000000000000a006')).rejects.toThrow(/not/);

    // One host mid-lifecycle, one quarantined: edited in the table as the workflow would leave them.
    const documents = createDocumentClient(env.client);
    const setState = (hostId: string, state: string, extra: Record<string, string>) =>
      documents.send(
        new UpdateCommand({
          TableName: env.tables.hosts,
          Key: { hostId },
          UpdateExpression: `SET #state = :state, stateVersion = :v${Object.keys(extra)
            .map((k) => `, ${k} = :${k}`)
            .join('')}`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':state': state,
            ':v': 5,
            ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`:${k}`, v])),
          },
        }),
      );
    await setState('sync-busy', 'RELOADING', { executionId: 'exec-sync-1' });
    await setState('sync-quarantined', 'QUARANTINED', { quarantineReason: 'vm2 did not come back' });
    const busyBefore = await env.store.hosts.get('sync-busy');
    const quarantinedBefore = await env.store.hosts.get('sync-quarantined');

    // The managed tag removed from one, another offline, and both busy hosts untagged and offline.
    env.ssm.setTags('mi-0000000000000a001', { 'rejuv:pool': 'sync' });
    env.ssm.setOnline('mi-0000000000000a002', false);
    env.ssm.setTags('mi-0000000000000a003', { 'rejuv:pool': 'sync' });
    env.ssm.setOnline('mi-0000000000000a004', false);

    const second = await sync();
    expect(second.registered).toEqual([]);
    expect(second.markedUnavailable.sort()).toEqual(['mi-0000000000000a001', 'sync-b']);
    expect(second.observed).toEqual(
      expect.arrayContaining([
        { hostId: 'sync-busy', observation: 'not-managed' },
        { hostId: 'sync-quarantined', observation: 'offline' },
      ]),
    );
    expect((await env.store.hosts.get('mi-0000000000000a001')).unavailable).toMatchObject({
      reason: 'not-managed',
    });
    expect((await env.store.hosts.get('sync-b')).unavailable).toMatchObject({ reason: 'offline' });
    expect(await env.store.hosts.get('sync-busy')).toEqual(busyBefore);
    expect(await env.store.hosts.get('sync-quarantined')).toEqual(quarantinedBefore);
    const busyChain = await chainSteps('sync-busy');
    expect(busyChain.at(-1)).toMatchObject({ step: 'HostSync', outcome: 'skipped', fromState: 'RELOADING' });

    // Nothing new: a third run writes nothing and records no observation twice.
    const third = await sync();
    expect(third).toMatchObject({ registered: [], markedUnavailable: [], markedAvailable: [] });
    expect(await chainSteps('sync-busy')).toHaveLength(busyChain.length);

    // Back online and tagged again: available again, audited.
    env.ssm.setOnline('mi-0000000000000a002', true);
    env.ssm.setTags('mi-0000000000000a001', MANAGED('sync'));
    const fourth = await sync();
    expect(fourth.markedAvailable.sort()).toEqual(['mi-0000000000000a001', 'sync-b']);
    expect((await env.store.hosts.get('sync-b')).unavailable).toBeUndefined();
    expect((await chainSteps('sync-b')).at(-1)).toMatchObject({
      principal: 'rejuv:host-sync',
      detail: { change: 'mark-available' },
    });
    expect(await env.store.audit.verify(hostChainId('sync-b'))).toMatchObject({ ok: true });
  });

  it("registers EC2 instances (i-) beside hybrid nodes (mi-): their tags are EC2's; one host's failed read is that host's alone", async () => {
    await ssmOnly('i-0000000000000e001', MANAGED('sync-ec2'));
    await ssmOnly('mi-0000000000000e002', MANAGED('sync-ec2'));

    // SSM's ListTagsForResource refuses `i-` ids as ManagedInstance: the EC2 host is read from EC2.
    const first = await sync();
    expect(first.unreadable).toEqual([]);
    expect(first.registered).toEqual(expect.arrayContaining(['i-0000000000000e001', 'mi-0000000000000e002']));
    expect(await env.store.hosts.get('i-0000000000000e001')).toMatchObject({
      pool: 'sync-ec2',
      instanceId: 'i-0000000000000e001',
      state: 'IN_SERVICE',
    });

    // One hybrid node's tags cannot be read (SSM fails every attempt the SDK makes): the others still sync.
    await ssmOnly('mi-0000000000000e003', MANAGED('sync-ec2'));
    await ssmOnly('i-0000000000000e004', MANAGED('sync-ec2'));
    env.ssm.failNext('ListTagsForResource', 'InvalidResourceId', 1);
    const second = await sync();
    expect(second.unreadable).toEqual([
      { instanceId: expect.stringMatching(/^mi-/), reason: expect.stringContaining('InvalidResourceId') },
    ]);
    const unreadable = second.unreadable[0]?.instanceId ?? '';
    expect(second.registered).toContain('i-0000000000000e004');
    // The unread host is neither registered nor marked this run; the next run reads it again.
    expect(second.registered).not.toContain(unreadable);
    expect(second.markedUnavailable).not.toContain(unreadable);
    const third = await sync();
    expect(third.unreadable).toEqual([]);
  });
});
