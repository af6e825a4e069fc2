/**
 * The leaking heartbeat guest (host/guest/heartbeat.asm, LEAK_CALLS_PER_TICK): what the demo's aging
 * segment relies on. Its QEMU process's resident memory, as CollectAging reports it, keeps growing while
 * the plain guest's stays flat; a warm reboot gives it a new QEMU process that starts small again, and the
 * guest itself keeps running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHostDocument } from '../../host/documents/load-host-document.js';
import { counterBreaks, readHeartbeatLog } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { buildTestGuest } from '../../host/lab/test-guest.js';
import { runDocument } from '../../host/runner/run-document.js';
import { judgeCollectorOutput } from '../../shared/aging/collector-output.js';
import { runHostDocument } from './support/host-documents.js';

const MIB = 2 ** 20;

let host: LabHost;
beforeAll(async () => {
  host = await createLabHost();
  await host.addVm({ name: 'leaky', memoryMiB: 32, leakCallsPerTick: 30 });
  await host.addVm({ name: 'plain', memoryMiB: 32 });
  await host.launch();
});
afterAll(async () => {
  await host?.teardown();
  await teardownOpenLabHosts();
});

/** Each VM's QEMU RSS, as the collector reports it and the coordinator accepts it. */
async function rss(): Promise<Record<string, number>> {
  const run = await runDocument({
    document: loadHostDocument('CollectAging').content,
    documentName: 'CollectAging',
    parameters: { hostId: host.id },
    hostRoot: host.root,
  });
  const verdict = judgeCollectorOutput(run.stdout, { hostId: host.id }, new Date());
  if (verdict.outcome !== 'accepted') throw new Error(`refused: ${verdict.reason}`);
  return Object.fromEntries(verdict.measurement.qemu.map((q) => [q.vm, q.rssBytes]));
}

/** Measures until `done` holds; the guest's pace depends on how busy the machine is, not on a clock. */
async function until(done: (now: Record<string, number>) => boolean): Promise<Record<string, number>> {
  for (let attempt = 0; attempt < 120; attempt++) {
    const now = await rss();
    if (done(now)) return now;
    await sleep(500);
  }
  throw new Error('the condition never held');
}

describe('Lab: the leaking heartbeat guest', () => {
  it('refuses a leak rate outside 0..100 before assembling anything', async () => {
    await expect(buildTestGuest(101)).rejects.toThrow(
      /leakCallsPerTick must be a whole number from 0 to 100/,
    );
    await expect(buildTestGuest(2.5)).rejects.toThrow(/got 2.5/);
  });

  it("grows its QEMU process's memory while the plain guest's stays flat, until a warm reboot starts it small", async () => {
    // Both guests mark their RAM at boot; past that, the plain guest's process stops growing.
    await until((now) => (now['leaky'] ?? 0) > 0 && (now['plain'] ?? 0) > 0);
    await sleep(3000);
    const start = await rss();
    const grown = await until((now) => (now['leaky'] ?? 0) >= (start['leaky'] ?? 0) + 12 * MIB);
    expect(Math.abs((grown['plain'] ?? 0) - (start['plain'] ?? 0))).toBeLessThan(MIB);

    const { result } = await runHostDocument(host.root, 'WarmReboot', { runId: 'leak-1' });
    expect(result).toMatchObject({ outcome: 'ok' });
    const after = await rss();
    // The new process holds the guest's RAM again and a few fresh blocks, not what the old one piled up.
    expect(after['leaky']).toBeLessThan((grown['leaky'] ?? 0) - 8 * MIB);
    for (const vm of ['leaky', 'plain']) {
      const log = await readHeartbeatLog(host.vm(vm).heartbeat.log);
      expect(log.boots).toBe(1);
      expect(counterBreaks(log.counters)).toEqual([]);
    }
  });
});
