import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { counterBreaks, readHeartbeatLog, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { queryStatus } from '../../host/lab/qmp-client.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import type { WarmRebootVm } from '../../host/results/host-document-result.js';
import { runHostDocument } from './support/host-documents.js';

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

function resumedVms(vms: readonly unknown[]): WarmRebootVm[] {
  return vms as WarmRebootVm[];
}

/** The largest number of guests whose pauses (stoppedAt to resumedAt) overlapped. */
function mostPausedAtOnce(vms: readonly WarmRebootVm[]): number {
  const edges = vms.flatMap((vm) => [
    { at: vm.stoppedAt ?? 0, change: 1 },
    { at: vm.resumedAt ?? 0, change: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.change - b.change);
  let paused = 0;
  let most = 0;
  for (const edge of edges) {
    paused += edge.change;
    most = Math.max(most, paused);
  }
  return most;
}

async function heartbeatsOf(lab: LabHost, names: readonly string[]): Promise<Map<string, number>> {
  const last = new Map<string, number>();
  for (const name of names)
    last.set(name, (await readHeartbeatLog(lab.vm(name).heartbeat.log)).counters.at(-1) ?? 0);
  return last;
}

describe('Document: WarmReboot', () => {
  it('restarts every QEMU process while each guest keeps running from memory left in place', async () => {
    host = await createLabHost();
    await host.addVm({ name: 'vm-shm', memoryMiB: 128, ram: 'shared-shm' });
    await host.addVm({ name: 'vm-file', memoryMiB: 128, ram: 'shared-file' });
    await host.launch();
    const names = ['vm-file', 'vm-shm'];
    const pidsBefore = new Map<string, number>();
    for (const name of names) pidsBefore.set(name, await vmPid(host.vm(name).argv));
    const countersBefore = await heartbeatsOf(host, names);

    const { run, result } = await runHostDocument(host.root, 'WarmReboot', { runId: 'warm-1' });

    expect(run.status).toBe('Success');
    expect(result.outcome).toBe('ok');
    const vms = resumedVms(result.vms);
    expect(vms.map((vm) => vm.name).sort()).toEqual(names);
    for (const name of names) {
      const entry = host.vm(name);
      const reported = vms.find((vm) => vm.name === name);
      const pidAfter = await vmPid(entry.argv);
      expect(pidAfter).not.toBe(pidsBefore.get(name));
      expect(reported).toMatchObject({ outcome: 'resumed', pidBefore: pidsBefore.get(name), pidAfter });
      expect(reported?.stateBytes).toBeGreaterThan(0);
      expect(reported?.stateBytes).toBeLessThan((reported?.ramBytes ?? 0) / 100);
      expect(reported?.pauseMs).toBeGreaterThan(0);
      expect(await queryStatus(entry.qmpSocket)).toBe('running');

      await waitForHeartbeat(entry.heartbeat.log, (countersBefore.get(name) ?? 0) + 20);
      const log = await readHeartbeatLog(entry.heartbeat.log);
      expect(log.boots).toBe(1);
      expect(counterBreaks(log.counters)).toEqual([]);
      expect(log.badPages).toEqual([]);
      expect(await readdir(entry.stateDir)).toEqual(['qemu.log']);
    }

    const verify = await runHostDocument(host.root, 'Verify', { runId: 'warm-1' });
    expect(verify.run.status).toBe('Success');
    expect(verify.result.vms.map((vm) => vm.outcome)).toEqual(['verified', 'verified']);
  });

  it('replays the stored result when the same runId is sent again, restarting nothing; a new runId reboots again', async () => {
    host = await createLabHost();
    const entry = await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    await host.launch();
    const first = await runHostDocument(host.root, 'WarmReboot', { runId: 'same-run' });
    const pidAfterFirst = await vmPid(entry.argv);

    const again = await runHostDocument(host.root, 'WarmReboot', { runId: 'same-run' });

    expect(again.run.status).toBe('Success');
    expect(again.result).toMatchObject({ outcome: 'ok', replayed: true });
    expect(again.result.vms).toEqual(first.result.vms);
    expect(await vmPid(entry.argv)).toBe(pidAfterFirst);
    expect((await readHeartbeatLog(entry.heartbeat.log)).boots).toBe(1);

    // The VM now runs in a process the agent started with -incoming; the next run takes it as it is.
    const next = await runHostDocument(host.root, 'WarmReboot', { runId: 'next-run' });
    expect(next.result).toMatchObject({ outcome: 'ok' });
    expect(next.result.replayed).toBeUndefined();
    expect(await vmPid(entry.argv)).not.toBe(pidAfterFirst);
    expect((await readHeartbeatLog(entry.heartbeat.log)).boots).toBe(1);
  });

  it('brings three VMs on one host through one run', async () => {
    host = await createLabHost();
    const names = ['vm-1', 'vm-2', 'vm-3'];
    for (const name of names) await host.addVm({ name, memoryMiB: 64 });
    await host.launch();
    const countersBefore = await heartbeatsOf(host, names);

    const { run, result } = await runHostDocument(host.root, 'WarmReboot', { runId: 'three' });

    expect(run.status).toBe('Success');
    const vms = resumedVms(result.vms);
    expect(vms.map((vm) => [vm.name, vm.outcome])).toEqual(names.map((n) => [n, 'resumed']));
    // One guest per CPU (at least two) is paused at a time; the rest run on until their turn.
    expect(mostPausedAtOnce(vms)).toBeLessThanOrEqual(Math.max(2, availableParallelism()));
    for (const name of names) {
      const entry = host.vm(name);
      await waitForHeartbeat(entry.heartbeat.log, (countersBefore.get(name) ?? 0) + 10);
      const log = await readHeartbeatLog(entry.heartbeat.log);
      expect(log.boots).toBe(1);
      expect(counterBreaks(log.counters)).toEqual([]);
    }
    const verify = await runHostDocument(host.root, 'Verify', { runId: 'three' });
    expect(verify.result.outcome).toBe('ok');
  });
});
