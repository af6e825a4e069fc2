import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counterBreaks } from '../../host/lab/heartbeat-log.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { hostChainId, type AuditRecord } from '../../shared/domain/audit-record.js';
import { addFleetHost, agingAlarmEvent, type FleetHost } from './support/local-fleet.js';

let env: LocalEnvironment;

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: { pools: { solo: { maxHostsInMaintenance: 1 } }, defaultMaxHostsInMaintenance: 2 },
    waitMs: 100,
  });
});

// Every call each function made was one its deployed role may make: IAM refused nothing.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

async function chain(hostId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const r of env.store.audit.read(hostChainId(hostId))) records.push(r);
  return records;
}

async function finished(executionName: string) {
  const execution = env.stepFunctions.execution(executionName);
  if (execution === undefined) throw new Error(`no execution ${executionName}`);
  await execution.done;
  return execution;
}

describe('End to end: an aging alarm rejuvenates a host', () => {
  let host: FleetHost;

  beforeAll(async () => {
    host = await addFleetHost(env, { hostId: 'e2e-a', pool: 'web', vms: [{ name: 'vm1' }, { name: 'vm2' }] });
  });

  it('runs the whole workflow: host back IN_SERVICE, guests continued, every step audited in order', async () => {
    const before = await host.heartbeats();
    const started = (await env.invokeTrigger('AlarmTrigger', agingAlarmEvent(host.hostId))) as {
      status: string;
      executionName: string;
    };
    expect(started.status).toBe('started');
    const execution = await finished(started.executionName);
    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });

    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE', cordoned: false });
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();

    const after = await host.heartbeats();
    for (const vm of ['vm1', 'vm2']) {
      expect(after[vm]?.boots, `${vm} never rebooted`).toBe(1);
      expect(counterBreaks(after[vm]?.counters ?? []), `${vm} counter continued`).toEqual([]);
      expect(after[vm]?.counters.length ?? 0).toBeGreaterThan(before[vm]?.counters.length ?? 0);
    }

    expect(await env.store.audit.verify(hostChainId(host.hostId))).toMatchObject({ ok: true });
    const steps = (await chain(host.hostId)).filter((r) => r.executionId === started.executionName);
    expect(steps.filter((r) => r.toState !== undefined).map((r) => r.toState)).toEqual([
      'ADMITTED',
      'DRAINING',
      'DRAINED',
      'SUSPENDING',
      'RELOADING',
      'RESUMING',
      'VERIFYING',
      'UNDRAINING',
      'IN_SERVICE',
    ]);
    const warm = steps.find(
      (r) => r.step === 'WarmReboot' && r.commandId !== undefined && r.outcome === 'succeeded',
    );
    expect(warm?.principal).toBe('cloudwatch-alarm:000000000000');
    expect(steps.at(-1)).toMatchObject({ step: 'Release', outcome: 'succeeded' });
    expect(env.sns.published().map((m) => m.subject)).toContain(`rejuv: host ${host.hostId} rejuvenated`);
  });

  it('starts one execution for the same alarm state change delivered twice', async () => {
    const event = agingAlarmEvent(host.hostId);
    const [a, b] = (await Promise.all([
      env.invokeTrigger('AlarmTrigger', event),
      env.invokeTrigger('AlarmTrigger', event),
    ])) as {
      status: string;
      executionName: string;
    }[];
    expect([a?.status, b?.status].sort()).toEqual(['duplicate', 'started']);
    expect(a?.executionName).toBe(b?.executionName);
    const execution = await finished(a?.executionName ?? '');
    expect(execution.status).toBe('SUCCEEDED');
    expect(env.stepFunctions.executions().filter((e) => e.name === a?.executionName)).toHaveLength(1);
  });
});
