/**
 * Event-driven rejuvenation from a real aging trend, as the demo runs it: a lab host whose leaking guest
 * grows its QEMU process, measured by the AgingCollector bundle (high-resolution metrics) and judged by the
 * AgingPredictor bundle under their roles' IAM, which starts the host with trigger `predictive` and its
 * evidence; the workflow rejuvenates it, and the new QEMU process's memory is back down. A host with
 * plain guests, measured by the same rounds, is never started.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AGING_COLLECTION,
  demoPrediction,
  LEAK_CALLS_PER_TICK,
  runAgingSegment,
} from '../../demo/aging-segment.js';
import { counterBreaks } from '../../host/lab/heartbeat-log.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { hostChainId, type AuditRecord } from '../../shared/domain/audit-record.js';
import { addFleetHost, type FleetHost } from './support/local-fleet.js';

let env: LocalEnvironment;
let leaking: FleetHost;
let flat: FleetHost;

beforeAll(async () => {
  env = await startLocalEnvironment({
    waitMs: 150,
    coordinator: { agingCollection: AGING_COLLECTION, prediction: demoPrediction() },
  });
  [leaking, flat] = await Promise.all([
    addFleetHost(env, {
      hostId: 'aging-leaky',
      pool: 'aging',
      vms: [{ name: 'vm1', leakCallsPerTick: LEAK_CALLS_PER_TICK }, { name: 'vm2' }],
    }),
    addFleetHost(env, { hostId: 'aging-flat', pool: 'steady', vms: [{ name: 'vm1' }] }),
  ]);
});

afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

describe('End to end: a predicted rejuvenation from a leaking QEMU process', () => {
  it('starts the leaking host with its evidence, rejuvenates it, and its memory falls back; the flat host is left alone', async () => {
    const run = await runAgingSegment(env, {
      host: leaking,
      leakingVm: 'vm1',
      elapsed: () => '',
      follow: async (name) => {
        await env.stepFunctions.execution(name)?.done;
      },
      log: () => undefined,
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.evidence.series).toBe('qemuRss:vm1');
    expect(run.evidence.p).toBeLessThan(0.001);
    expect(run.fellBack).toBe(true);

    const records: AuditRecord[] = [];
    for await (const r of env.store.audit.read(hostChainId(leaking.hostId))) records.push(r);
    const admitted = records.find((r) => r.step === 'Admit' && r.outcome === 'succeeded');
    expect(admitted?.principal).toBe('rejuv:aging-predictor');
    expect((await env.store.audit.verify(hostChainId(leaking.hostId))).ok).toBe(true);

    const flatChain: AuditRecord[] = [];
    for await (const r of env.store.audit.read(hostChainId(flat.hostId))) flatChain.push(r);
    expect(flatChain.filter((r) => r.step === 'Admit')).toEqual([]);
    expect(env.stepFunctions.executions().map((e) => e.name)).toEqual([run.executionName]);

    // The leaking guest kept running through it: one boot, a counter without a break.
    for (const log of Object.values(await leaking.heartbeats())) {
      expect(log.boots).toBe(1);
      expect(counterBreaks(log.counters)).toEqual([]);
    }
  });
});
