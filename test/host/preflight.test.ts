import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hostLayout } from '../../host/inventory/host-layout.js';
import { counterBreaks, readHeartbeatLog, waitForHeartbeat } from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { queryStatus } from '../../host/lab/qmp-client.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { runHostDocument } from './support/host-documents.js';
import { pidsOf } from './support/vm-pids.js';

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('Document: Preflight', () => {
  it('passes a host whose VMs all keep RAM on a shared file backend', async () => {
    host = await createLabHost();
    await host.addVm({ name: 'vm-shm', memoryMiB: 64, ram: 'shared-shm' });
    await host.addVm({ name: 'vm-file', memoryMiB: 64, ram: 'shared-file' });
    await host.launch();

    const { run, result } = await runHostDocument(host.root, 'Preflight', { runId: 'pre-ok' });

    expect(run.status).toBe('Success');
    expect(result.outcome).toBe('ok');
    expect(result.vms.map((vm) => [vm.name, vm.outcome])).toEqual([
      ['vm-file', 'ready'],
      ['vm-shm', 'ready'],
    ]);
    expect(result.vms[0]?.ramBackends).toEqual([
      expect.objectContaining({ type: 'memory-backend-file', share: true, bytes: 64 << 20 }),
    ]);
  });

  it('refuses a VM whose RAM is private or a memfd, naming each VM and why', async () => {
    host = await createLabHost();
    await host.addVm({ name: 'vm-good', memoryMiB: 64 });
    await host.addVm({ name: 'vm-private', memoryMiB: 64, ram: 'private' });
    await host.addVm({ name: 'vm-memfd', memoryMiB: 64, ram: 'memfd' });
    await host.launch();

    const { run, result } = await runHostDocument(host.root, 'Preflight', { runId: 'pre-refused' });

    expect(run.status).toBe('Failed');
    expect(result).toMatchObject({ outcome: 'refused', reasonCode: 'vm-not-ready' });
    const byName = new Map(result.vms.map((vm) => [vm.name, vm]));
    expect(byName.get('vm-good')?.outcome).toBe('ready');
    expect(byName.get('vm-private')).toMatchObject({ outcome: 'refused' });
    expect(byName.get('vm-private')?.reason).toMatch(/private memory \(memory-backend-ram, share=off\)/);
    expect(byName.get('vm-memfd')?.reason).toMatch(
      /memory-backend-memfd: a memfd dies with its QEMU process/,
    );
    expect(result.reason).toMatch(/vm-private: .*private memory/);
  });

  it('answers the kernel level with a structured "not supported on this host" refusal', async () => {
    host = await createLabHost();
    await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    await host.launch();

    const preflight = await runHostDocument(host.root, 'Preflight', { runId: 'kernel', level: 'kernel' });
    expect(preflight.result).toMatchObject({ outcome: 'refused', reasonCode: 'level-unsupported' });
    expect(preflight.result.reason).toMatch(/level 'kernel' is not supported on this host: /);
    // Each failing check by name: this directory host has no state region and keeps RAM on /dev/shm.
    expect(preflight.result.reason).toMatch(/no kernel-reload\.json names a state region for device state/);
    expect(preflight.result.reason).toMatch(
      /vm-a keeps guest RAM in \/dev\/shm\/\S+, which does not survive a kernel reload: it is on tmpfs/,
    );

    const pid = await vmPid(host.vm('vm-a').argv);
    const reboot = await runHostDocument(host.root, 'WarmReboot', { runId: 'kernel', level: 'kernel' });
    expect(reboot.run.status).toBe('Failed');
    expect(reboot.result).toMatchObject({ outcome: 'refused', reasonCode: 'level-unsupported' });
    expect(await vmPid(host.vm('vm-a').argv)).toBe(pid);
  });
});

describe('Document: WarmReboot on a host that is not ready', () => {
  it('refuses to touch any VM when one VM has private RAM', async () => {
    host = await createLabHost();
    await host.addVm({ name: 'vm-good', memoryMiB: 64 });
    await host.addVm({ name: 'vm-private', memoryMiB: 64, ram: 'private' });
    await host.launch();
    const names = ['vm-good', 'vm-private'];
    const pids = await pidsOf(host, names);

    const { run, result } = await runHostDocument(host.root, 'WarmReboot', { runId: 'not-ready' });

    expect(run.status).toBe('Failed');
    expect(result).toMatchObject({ outcome: 'refused', reasonCode: 'vm-not-ready' });
    expect(result.reason).toMatch(/^nothing was touched: vm-private: .*private memory/);
    for (const [index, name] of names.entries()) {
      const entry = host.vm(name);
      expect(await vmPid(entry.argv)).toBe(pids[index]);
      expect(await queryStatus(entry.qmpSocket)).toBe('running');
      expect(await exists(join(entry.stateDir, 'suspend.vmstate'))).toBe(false);
      const last = (await readHeartbeatLog(entry.heartbeat.log)).counters.at(-1) ?? 0;
      await waitForHeartbeat(entry.heartbeat.log, last + 5);
      expect(counterBreaks((await readHeartbeatLog(entry.heartbeat.log)).counters)).toEqual([]);
    }
    // A refusal is not a run: the same runId may be sent again once the host is fixed.
    expect(await exists(join(hostLayout(host.root).runsDir, 'not-ready.json'))).toBe(false);
  });
});
