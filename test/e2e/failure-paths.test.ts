import { Duration } from 'aws-cdk-lib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counterBreaks } from '../../host/lab/heartbeat-log.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { hostChainId } from '../../shared/domain/audit-record.js';
import { addFleetHost, agingAlarmEvent } from './support/local-fleet.js';
import { auditChain, finished, operatorRequest, type TriggerAnswer } from './support/execution.js';

let env: LocalEnvironment;

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: {
      pools: { pair: { maxHostsInMaintenance: 1 } },
      defaultMaxHostsInMaintenance: 3,
      awaitHostTimeout: Duration.seconds(5),
    },
    waitMs: 100,
    // Admit retries a full pool 20 times: at 1 s apart the third host of a pool of one outlasts two whole
    // rejuvenations (about 3-6 s each here, longer on a loaded machine); at 0.3 s it did only just.
    poolSlotRetryMs: 1000,
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

const operator = async (hostId: string, requestId: string, extra: Record<string, unknown> = {}) =>
  (await env.startAsOperator(operatorRequest(hostId, requestId, extra))) as TriggerAnswer;

describe('End to end: failure paths', () => {
  it('Preflight refusal: the host is untouched, the lock released, the refusal audited and notified', async () => {
    const host = await addFleetHost(env, {
      hostId: 'fp-refuse',
      pool: 'p1',
      vms: [{ name: 'vm1' }, { name: 'vm2', ram: 'private' }],
    });
    const pids = await Promise.all([...host.lab.vms.values()].map((vm) => vmPid(vm.argv)));
    const started = await operator(host.hostId, 'r1');
    const execution = await finished(env, started.executionName);
    expect({ status: execution.status, error: execution.error }).toEqual({
      status: 'FAILED',
      error: 'Refused',
    });
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({
      state: 'IN_SERVICE',
      cordoned: false,
      stateVersion: 2,
    });
    expect(await Promise.all([...host.lab.vms.values()].map((vm) => vmPid(vm.argv)))).toEqual(pids);
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();
    const records = await auditChain(env, host.hostId);
    expect(
      records.find((r) => r.step === 'Preflight' && r.outcome === 'refused')?.detail?.['reasons'],
    ).toMatch(/vm2/);
    expect(records.at(-1)).toMatchObject({ step: 'Release', outcome: 'refused' });
    expect(env.sns.published().some((m) => m.subject === `rejuv: host ${host.hostId} refused`)).toBe(true);
  });

  it('WarmReboot failure (a QEMU process killed): Recover brings the others back, the host is quarantined naming the lost VM', async () => {
    const host = await addFleetHost(env, {
      hostId: 'fp-kill',
      pool: 'p2',
      vms: [{ name: 'vm1' }, { name: 'vm2' }],
    });
    const victim = host.lab.vm('vm2');
    // The fault: between Preflight and WarmReboot, vm2's hypervisor process dies.
    env.ssm.onCommandFinished((event) => {
      if (event.instanceId === host.instanceId && event.documentName === env.documentNames['Preflight']) {
        void vmPid(victim.argv).then((pid) => process.kill(pid, 'SIGKILL'));
      }
    });
    const started = await operator(host.hostId, 'k1');
    const execution = await finished(env, started.executionName);
    expect({ status: execution.status, error: execution.error }).toEqual({
      status: 'FAILED',
      error: 'Quarantined',
    });
    const after = await env.store.hosts.get(host.hostId);
    expect(after.state).toBe('QUARANTINED');
    expect(after.quarantineReason).toMatch(/vm2/);
    const steps = (await auditChain(env, host.hostId)).map((r) => `${r.step}:${r.outcome}`);
    expect(steps).toEqual(
      expect.arrayContaining([
        'Compensate:started',
        'Recover:started',
        'Quarantine:succeeded',
        'Release:failed',
      ]),
    );
    const vm1 = (await host.heartbeats())['vm1'];
    expect(vm1?.boots).toBe(1);
    expect(counterBreaks(vm1?.counters ?? [])).toEqual([]);
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();
    expect(
      env.sns.published().find((m) => m.subject === `rejuv: host ${host.hostId} quarantined`)?.message,
    ).toMatch(/vm2/);
    expect(await env.store.audit.verify(hostChainId(host.hostId))).toMatchObject({ ok: true });
  });

  it('the host does not come back before the deadline: QUARANTINED, lock and slot released', async () => {
    const host = await addFleetHost(env, { hostId: 'fp-gone', pool: 'p3', vms: [{ name: 'vm1' }] });
    env.ssm.onCommandFinished((event) => {
      if (event.instanceId === host.instanceId && event.documentName === env.documentNames['WarmReboot']) {
        env.ssm.setOnline(host.instanceId, false);
      }
    });
    const started = await operator(host.hostId, 'g1');
    const execution = await finished(env, started.executionName);
    env.ssm.setOnline(host.instanceId, true);
    expect({ status: execution.status, error: execution.error }).toEqual({
      status: 'FAILED',
      error: 'Quarantined',
    });
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({
      state: 'QUARANTINED',
      quarantineReason: expect.stringMatching(/HostNotBackError/),
    });
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();
    expect(await env.store.poolSemaphore.holders('p3', 3)).toEqual([]);
  });

  it('two triggers for one host: the second is refused by the lock', async () => {
    const host = await addFleetHost(env, { hostId: 'fp-race', pool: 'p4', vms: [{ name: 'vm1' }] });
    const [byOperator, byAlarm] = (await Promise.all([
      operator(host.hostId, 'race'),
      env.invokeTrigger('AlarmTrigger', agingAlarmEvent(host.hostId)),
    ])) as TriggerAnswer[];
    const results = await Promise.all([
      finished(env, byOperator?.executionName ?? ''),
      finished(env, byAlarm?.executionName ?? ''),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
    const refused = results.find((r) => r.status === 'FAILED');
    expect(refused?.error).toBe('Refused');
    const records = await auditChain(env, host.hostId);
    expect(records.find((r) => r.executionId === refused?.name)).toMatchObject({
      step: 'Admit',
      outcome: 'refused',
      reason: expect.stringMatching(/LockHeldError/),
    });
    expect((await env.store.hosts.get(host.hostId)).state).toBe('IN_SERVICE');
  });

  it('respects the pool limit across several hosts: never more than one of the pool out of service', async () => {
    const hosts = await Promise.all(
      ['a', 'b', 'c'].map((s) =>
        addFleetHost(env, { hostId: `fp-pool-${s}`, pool: 'pair', vms: [{ name: 'vm1' }] }),
      ),
    );
    let maxOut = 0;
    let observing = true;
    const observer = (async () => {
      while (observing) {
        const out = (await env.store.hosts.listByPool('pair')).filter((h) => h.state !== 'IN_SERVICE').length;
        maxOut = Math.max(maxOut, out);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const started = await Promise.all(hosts.map((h, i) => operator(h.hostId, `pool-${i}`)));
    const results = await Promise.all(started.map((s) => finished(env, s.executionName)));
    observing = false;
    await observer;
    expect(
      results.map((r) => r.status),
      JSON.stringify(results.map((r) => ({ error: r.error, cause: r.cause?.slice(0, 600) }))),
    ).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(maxOut).toBe(1);
  });

  it('a dry run checks everything and touches nothing', async () => {
    const host = await addFleetHost(env, { hostId: 'fp-dry', pool: 'p5', vms: [{ name: 'vm1' }] });
    const pid = await vmPid(host.lab.vm('vm1').argv);
    const started = await operator(host.hostId, 'd1', { dryRun: true });
    const execution = await finished(env, started.executionName);
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ result: { outcome: 'dry-run' } });
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({
      state: 'IN_SERVICE',
      stateVersion: 0,
      cordoned: false,
    });
    expect(await vmPid(host.lab.vm('vm1').argv)).toBe(pid);
    const records = await auditChain(env, host.hostId);
    expect(records.filter((r) => r.outcome === 'skipped').map((r) => r.step)).toEqual([
      'Admit',
      'Drain',
      'WarmReboot',
      'AwaitHost',
      'Verify',
      'Undrain',
    ]);
    expect(
      env.ssm
        .commands()
        .filter((c) => c.instanceId === host.instanceId)
        .map((c) => c.documentName),
    ).toEqual([env.documentNames['Preflight']]);
  });
});
