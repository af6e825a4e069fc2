/**
 * The lease paths only long or disturbed runs take, run under the deployed roles' policies: a run that
 * outlasts half its lease renews its lock and slot at the next transition; a run whose lock expired, was
 * taken by another execution and given back, reclaims it to put the host back. Each is a call some
 * function makes rarely; local IAM must find a missing grant here before AWS does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { addFleetHost, type FleetHost } from '../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../local/local-environment.js';
import { hostChainId, type AuditRecord } from '../../shared/domain/audit-record.js';
import { operatorStart } from './support/fault-triggers.js';
import { handlerFaults, startFaultEnvironment } from './support/fault-environment.js';

let env: LocalEnvironment;
let hostCount = 0;

beforeAll(async () => {
  // The fault environment's 12 s lease: a run stalled 7 s has less than half of it left.
  env = await startFaultEnvironment();
});

afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

async function newHost(): Promise<FleetHost> {
  hostCount += 1;
  return addFleetHost(env, {
    hostId: `lg-${hostCount}`,
    pool: `lg-pool-${hostCount}`,
    vms: [{ name: 'vm1' }],
  });
}

async function auditOf(hostId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const r of env.store.audit.read(hostChainId(hostId))) records.push(r);
  return records;
}

describe('Leases under the deployed roles', () => {
  it('a run that outlasts half its lease renews the lock and slot, and completes', async () => {
    const host = await newHost();
    handlerFaults.push({
      stepId: 'Advance',
      inputMatches: [new RegExp(`"hostId":"${host.hostId}"`), /"to":"DRAINING"/],
      kind: { stallMs: 7_000 },
      times: 1,
      hits: 0,
    });
    const name = await operatorStart(env, host, 'long run', 'renew');
    const execution = env.stepFunctions.execution(name);
    await execution?.done;
    expect({ status: execution?.status, error: execution?.error }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
    });
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE', cordoned: false });
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();
  });

  it('a lock that expired, was taken over and given back is reclaimed, and the host goes back to service', async () => {
    const host = await newHost();
    handlerFaults.push({
      stepId: 'Advance',
      inputMatches: [new RegExp(`"hostId":"${host.hostId}"`), /"to":"SUSPENDING"/],
      kind: { stallMs: 14_000 },
      times: 1,
      hits: 0,
    });
    const stale = await operatorStart(env, host, 'stalled run', 'stale');
    // Drained and stalled past its 12 s lease: another request takes the lock, is refused by the host's
    // state, and lets go; the stalled run is then fenced and must reclaim the lock to undrain.
    await sleep(13_000);
    const usurper = await operatorStart(env, host, 'usurper', 'usurper');
    await env.stepFunctions.execution(usurper)?.done;
    await env.stepFunctions.execution(stale)?.done;
    await env.stepFunctions.settle();
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE', cordoned: false });
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();
    const records = await auditOf(host.hostId);
    expect(records.some((r) => r.executionId === stale && r.step === 'Compensate')).toBe(true);
    expect(records.at(-1)).toMatchObject({ step: 'Release' });
  });
});
