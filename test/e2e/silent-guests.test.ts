import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crashGuest } from '../../host/lab/guest-faults.js';
import { waitForLog } from '../../host/lab/heartbeat-log.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { addFleetHost, type FleetHost } from './support/local-fleet.js';
import { auditChain, finished, operatorRequest, type TriggerAnswer } from './support/execution.js';

let env: LocalEnvironment;
let host: FleetHost;

beforeAll(async () => {
  env = await startLocalEnvironment({ coordinator: { defaultMaxHostsInMaintenance: 1 }, waitMs: 100 });
  host = await addFleetHost(env, {
    hostId: 'silent-1',
    pool: 'p1',
    vms: [{ name: 'vm-dead' }, { name: 'vm-live' }],
  });
  crashGuest(host.lab.vm('vm-dead'));
  await waitForLog(host.lab.vm('vm-dead').heartbeat.log, (log) => log.badPages.length > 0);
});

// Every call each function made was one its deployed role may make: IAM refused nothing.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

const operator = async (requestId: string, extra: Record<string, unknown> = {}) =>
  (await env.startAsOperator(operatorRequest(host.hostId, requestId, extra))) as TriggerAnswer;

describe('End to end: a host whose guest was silent before the rejuvenation', () => {
  it('is refused by Preflight naming the silent VM, with no VM touched', async () => {
    const pids = await Promise.all([...host.lab.vms.values()].map((vm) => vmPid(vm.argv)));

    const execution = await finished(env, (await operator('refused')).executionName);

    expect({ status: execution.status, error: execution.error }).toEqual({
      status: 'FAILED',
      error: 'Refused',
    });
    expect(await Promise.all([...host.lab.vms.values()].map((vm) => vmPid(vm.argv)))).toEqual(pids);
    const preflight = (await auditChain(env, host.hostId)).find(
      (r) => r.step === 'Preflight' && r.outcome === 'refused',
    );
    expect(preflight?.detail?.['reasons']).toMatch(/vm-dead: guest heartbeat is silent/);
    expect(preflight?.detail?.['reasons']).not.toMatch(/vm-live/);
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE' });
  });

  it('with allowSilentGuests: rejuvenates, records the silent guest, and Verify does not fail for it', async () => {
    const started = await operator('allowed', { allowSilentGuests: true });
    const execution = await finished(env, started.executionName);

    expect(execution.status).toBe('SUCCEEDED');
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE' });
    const records = (await auditChain(env, host.hostId)).filter(
      (r) => r.executionId === started.executionName && r.outcome !== 'started',
    );
    expect(records.find((r) => r.step === 'Preflight')).toMatchObject({
      outcome: 'succeeded',
      detail: { silentGuests: 'vm-dead' },
    });
    const verify = records.find((r) => r.step === 'Verify' && r.commandId !== undefined);
    expect(verify).toMatchObject({ outcome: 'succeeded', detail: { silentAtPreflight: 'vm-dead' } });
    expect(verify?.detail?.['summary']).toMatch(/"name":"vm-dead","outcome":"silent-at-preflight"/);
    expect(verify?.detail?.['summary']).toMatch(/"name":"vm-live","outcome":"verified"/);
  });
});
