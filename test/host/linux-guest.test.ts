import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { counterBreaks, readHeartbeatLog, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { askLinuxGuest, guestUptime } from '../../host/lab/linux-guest-requests.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import type { WarmRebootVm } from '../../host/results/host-document-result.js';
import { runHostDocument } from './support/host-documents.js';

afterAll(teardownOpenLabHosts);

// One boot of a real Linux guest (Debian's kernel, busybox initramfs; about 10 s under TCG) for the
// whole file: CI has two cores.
describe('Linux guest: WarmReboot hands it over', () => {
  it('keeps the same boot running in a new QEMU process: counter unbroken, uptime growing, RAM and devices intact', async () => {
    const host = await createLabHost();
    const entry = await host.addLinuxVm({ name: 'vm-linux', memoryMiB: 256 });
    const booting = performance.now();
    await host.launch();
    console.info(
      `Linux guest booted to its first heartbeat in ${Math.round(performance.now() - booting)} ms`,
    );
    const pidBefore = await vmPid(entry.argv);
    const before = await guestUptime(entry);
    expect(await askLinuxGuest(entry, 'mem')).toEqual(['ok']);

    const { run, result } = await runHostDocument(host.root, 'WarmReboot', { runId: 'linux-handover' });

    expect(run.status).toBe('Success');
    const [vm] = result.vms as WarmRebootVm[];
    const pidAfter = await vmPid(entry.argv);
    expect(pidAfter).not.toBe(pidBefore);
    expect(vm).toMatchObject({ name: 'vm-linux', outcome: 'resumed', path: 'handover', pidBefore, pidAfter });
    const log = entry.heartbeat.log;
    await waitForHeartbeat(log, ((await readHeartbeatLog(log)).counters.at(-1) ?? 0) + 10);
    const after = await readHeartbeatLog(log);
    expect(after.boots).toBe(1);
    expect(counterBreaks(after.counters)).toEqual([]);
    const later = await guestUptime(entry);
    expect(later.bootId).toBe(before.bootId);
    expect(later.seconds).toBeGreaterThan(before.seconds);
    // RAM written at boot still checks out; the virtio devices came across with their state.
    expect(await askLinuxGuest(entry, 'mem')).toEqual(['ok']);
    expect(await askLinuxGuest(entry, 'net')).toEqual(['up']);
    expect((await askLinuxGuest(entry, 'read'))[1]).toBe(String(32 << 20));

    const verify = await runHostDocument(host.root, 'Verify', { runId: 'linux-handover' });
    expect(verify.result.outcome).toBe('ok');
    await host.teardown();
  });
});
