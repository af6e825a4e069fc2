/**
 * A lab host: a directory under `.tmp/hosts/` that plays a virtualization host, with test VMs in its
 * inventory. Tests and the bench create one, add VMs, launch them, and tear it down afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';
import { launchVm, type LaunchedVm } from './launch-vms.js';
import { LAB_HOSTS_DIR } from './repo-paths.js';
import { teardownHost } from './teardown-host.js';
import { createLinuxVm, type LinuxVmOptions } from './linux-vm.js';
import { createTestVm, type TestVmOptions } from './test-vm.js';

export interface LabHost {
  readonly id: string;
  readonly root: string;
  readonly vms: ReadonlyMap<string, VmInventoryEntry>;
  /** Adds a test VM to the inventory (does not start it). */
  addVm(options: TestVmOptions): Promise<VmInventoryEntry>;
  /** Adds a VM running the lab's Linux guest (host/lab/linux-vm.ts) to the inventory. */
  addLinuxVm(options: LinuxVmOptions): Promise<VmInventoryEntry>;
  /** Starts every VM added so far that is not running yet. */
  launch(): Promise<LaunchedVm[]>;
  /** The VM's inventory entry; throws for a name never added. */
  vm(name: string): VmInventoryEntry;
  teardown(): Promise<void>;
}

const openHosts = new Set<string>();

/** A Linux guest boots in about 10 s under TCG; a loaded machine can triple that. */
const LINUX_FIRST_HEARTBEAT_TIMEOUT_MS = 120_000;

export async function createLabHost(): Promise<LabHost> {
  const id = `h-${randomBytes(4).toString('hex')}`;
  const root = join(LAB_HOSTS_DIR, id);
  await mkdir(root, { recursive: true });
  openHosts.add(root);
  const vms = new Map<string, VmInventoryEntry>();
  const launched = new Set<string>();
  const linux = new Set<string>();
  return {
    id,
    root,
    vms,
    async addVm(options) {
      const entry = await createTestVm(root, options);
      vms.set(entry.name, entry);
      return entry;
    },
    async addLinuxVm(options) {
      const entry = await createLinuxVm(root, options);
      vms.set(entry.name, entry);
      linux.add(entry.name);
      return entry;
    },
    async launch() {
      const pending = [...vms.values()].filter((entry) => !launched.has(entry.name));
      const started = await Promise.all(
        pending.map((entry) =>
          launchVm(
            entry,
            linux.has(entry.name) ? { firstHeartbeatTimeoutMs: LINUX_FIRST_HEARTBEAT_TIMEOUT_MS } : {},
          ),
        ),
      );
      for (const vm of started) launched.add(vm.entry.name);
      return started;
    },
    vm(name) {
      const entry = vms.get(name);
      if (entry === undefined) throw new Error(`no VM ${name} on lab host ${id}`);
      return entry;
    },
    async teardown() {
      openHosts.delete(root);
      await teardownHost(root);
    },
  };
}

/** Tears down every lab host this process created and has not torn down yet. */
export async function teardownOpenLabHosts(): Promise<void> {
  await Promise.all([...openHosts].map((root) => teardownHost(root)));
  openHosts.clear();
}
