import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inventoryEntryPath,
  VmInventoryEntrySchema,
  writeInventoryEntry,
} from '../../host/inventory/vm-inventory.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import type { LaunchedVm } from '../../host/lab/launch-vms.js';
import { launchUnlistedVm } from '../../host/lab/unlisted-vm.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import type { CensusVm } from '../../host/results/host-document-result.js';
import { runHostDocument } from './support/host-documents.js';

// One host for the whole file: an inventory VM, a raw QEMU started outside the inventory, and a QEMU
// shaped like libvirt's. The tests run in order; adoption changes the inventory for the ones after it.
let host: LabHost;
let raw: LaunchedVm;
let libvirt: LaunchedVm;
beforeAll(async () => {
  host = await createLabHost();
  await host.addVm({ name: 'vm-listed', memoryMiB: 64 });
  await host.launch();
  raw = await launchUnlistedVm(host.root, 'vm-raw', 'raw');
  libvirt = await launchUnlistedVm(host.root, 'vm-libvirt', 'libvirt');
}, 120_000);
afterAll(teardownOpenLabHosts);

const byName = (census: readonly CensusVm[] | undefined) =>
  new Map((census ?? []).map((vm) => [vm.name, vm]));

describe('Census: every VM process on the host', () => {
  it('Preflight counts every VM: the inventory one managed, the raw QEMU adoptable, the libvirt-shaped one foreign with why', async () => {
    const { result } = await runHostDocument(host.root, 'Preflight', { runId: 'census-pre' });
    expect(result.outcome).toBe('ok');
    expect(result.vms.map((vm) => [vm.name, vm.outcome])).toEqual([['vm-listed', 'ready']]);
    const census = byName(result.census);
    expect(census.get('vm-listed')).toMatchObject({ outcome: 'managed', vmm: 'qemu' });
    expect(census.get('vm-raw')).toMatchObject({
      outcome: 'adoptable',
      pid: raw.pid,
      qmpSocket: raw.entry.qmpSocket,
    });
    expect(census.get('vm-libvirt')).toMatchObject({ outcome: 'foreign', pid: libvirt.pid });
    expect(census.get('vm-libvirt')?.reason).toMatch(/secret object \(masterKey0\)/);
    expect(census.get('vm-libvirt')?.reason).toMatch(/guest RAM is in libvirt's directory/);
    expect(result.census).toHaveLength(3);
  });

  it('refuses the kernel level naming each VM a kexec would end, and touches nothing', async () => {
    const { run, result } = await runHostDocument(host.root, 'Preflight', {
      runId: 'census-k',
      level: 'kernel',
    });
    expect(run.status).toBe('Failed');
    expect(result.outcome).toBe('refused');
    expect(result.reason).toMatch(
      /a kernel reload \(kexec\) would end 2 VM processes the agent does not manage/,
    );
    expect(result.reason).toContain(`vm-raw (pid ${raw.pid}, qemu, adoptable)`);
    expect(result.reason).toContain(`vm-libvirt (pid ${libvirt.pid}, qemu, foreign): `);
    const reboot = await runHostDocument(host.root, 'WarmReboot', { runId: 'census-k', level: 'kernel' });
    expect(reboot.result.outcome).toBe('refused');
    expect(reboot.result.reason).toContain(`vm-raw (pid ${raw.pid}, qemu, adoptable)`);
    expect(await vmPid(raw.entry.argv)).toBe(raw.pid);
  });

  it('refuses to adopt a foreign VM, writing nothing', async () => {
    const { run, result } = await runHostDocument(host.root, 'Census', {
      runId: 'adopt-lv',
      adopt: 'vm-libvirt',
    });
    expect(run.status).toBe('Failed');
    expect(run.responseCode).toBe(3);
    expect(result).toMatchObject({ outcome: 'refused', reasonCode: 'not-adoptable' });
    expect(result.adopted).toEqual([
      expect.objectContaining({
        name: 'vm-libvirt',
        outcome: 'refused',
        reason: expect.stringMatching(/it is foreign, not adoptable: /),
      }),
    ]);
    await expect(readFile(inventoryEntryPath(host.root, 'vm-libvirt'))).rejects.toThrow(/ENOENT/);
  });

  it('adopts the raw QEMU into a valid entry from its running argv; Preflight then manages it', async () => {
    const { run, result } = await runHostDocument(host.root, 'Census', { runId: 'adopt-all', adopt: '*' });
    expect(run.status).toBe('Success');
    expect(result.adopted).toEqual([
      { name: 'vm-raw', outcome: 'adopted', pid: raw.pid, entry: inventoryEntryPath(host.root, 'vm-raw') },
    ]);
    const entry = VmInventoryEntrySchema.parse(
      JSON.parse(await readFile(inventoryEntryPath(host.root, 'vm-raw'), 'utf8')),
    );
    expect(entry).toMatchObject({
      argv: raw.entry.argv,
      qmpSocket: raw.entry.qmpSocket,
      heartbeat: { log: raw.entry.heartbeat.log },
    });
    const preflight = await runHostDocument(host.root, 'Preflight', { runId: 'after-adopt' });
    expect(preflight.result.outcome).toBe('ok');
    expect(preflight.result.vms.map((vm) => [vm.name, vm.outcome])).toEqual([
      ['vm-listed', 'ready'],
      ['vm-raw', 'ready'],
    ]);
    expect(byName(preflight.result.census).get('vm-raw')?.outcome).toBe('managed');
    // Asked again: it is managed now, and its entry is never written twice.
    const again = await runHostDocument(host.root, 'Census', { runId: 'adopt-again', adopt: 'vm-raw' });
    expect(again.result.adopted?.[0]?.reason).toMatch(/it is managed, not adoptable/);
  });

  it('reports an entry whose process runs other arguments as drifted, with where, and leaves the entry as it is', async () => {
    const listed = host.vm('vm-listed');
    const path = inventoryEntryPath(host.root, 'vm-listed');
    const original = await readFile(path, 'utf8');
    await writeInventoryEntry(host.root, { ...listed, argv: [...listed.argv, '-smp', '2'] });
    try {
      const written = await readFile(path, 'utf8');
      const { result } = await runHostDocument(host.root, 'Census', { runId: 'drift' });
      expect(byName(result.vms).get('vm-listed')).toMatchObject({
        outcome: 'drifted',
        inventory: true,
        drift: [{ inventory: ['-smp', '2'], process: [] }],
      });
      expect(await readFile(path, 'utf8')).toBe(written);
    } finally {
      await writeFile(path, original);
    }
  });

  it('refuses hand-written entries for a VM that does not exist and for a process libvirt owns', async () => {
    await writeInventoryEntry(host.root, { ...libvirt.entry, name: 'vm-libvirt' });
    await writeInventoryEntry(host.root, {
      ...host.vm('vm-listed'),
      name: 'vm-ghost',
      argv: [
        'qemu-system-x86_64',
        '-name',
        'vm-ghost',
        '-qmp',
        `unix:${host.root}/run/rejuv/ghost.qmp,server=on,wait=off`,
      ],
      qmpSocket: `${host.root}/run/rejuv/ghost.qmp`,
    });
    const { result } = await runHostDocument(host.root, 'Preflight', { runId: 'hand-written' });
    expect(result).toMatchObject({ outcome: 'refused', reasonCode: 'vm-not-ready' });
    const vms = new Map(result.vms.map((vm) => [vm.name, vm]));
    expect(vms.get('vm-libvirt')?.reason).toMatch(
      new RegExp(`describes pid ${libvirt.pid}, which the agent must leave alone .*secret object`),
    );
    expect(vms.get('vm-ghost')?.reason).toMatch(/no process on this host runs its inventory argv/);
    expect(vms.get('vm-listed')?.outcome).toBe('ready');
    expect(byName(result.census).get('vm-ghost')?.outcome).toBe('missing');
  });
});
