/**
 * A lab host: a directory under `.tmp/hosts/` that plays a virtualization host, with test VMs in its
 * inventory. Tests and the bench create one, add VMs, launch them, and tear it down afterwards.
 * Its shape is `lab` (user-mode network, RAM in /dev/shm, raw disks) or `field` (VMs configured as
 * field hosts configure them: tap in a network namespace, RAM on hugetlbfs, qcow2 disks; see
 * host/lab/field-host.ts), where QEMU and the host documents run inside the host's namespace.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';
import { localProcessLauncher, processLauncher, type ScriptLauncher } from '../runner/run-document.js';
import { createFieldHost, type FieldHost, type FieldVmWiring, type LabShape } from './field-host.js';
import { launchVm, type LaunchedVm } from './launch-vms.js';
import { LAB_HOSTS_DIR } from './repo-paths.js';
import { teardownHost } from './teardown-host.js';
import { createLinuxVm, LINUX_DEFAULT_MEMORY_MIB, type LinuxVmOptions } from './linux-vm.js';
import { createTestVm, type TestVmOptions } from './test-vm.js';

export interface LabHost {
  readonly id: string;
  readonly root: string;
  readonly shape: LabShape;
  readonly vms: ReadonlyMap<string, VmInventoryEntry>;
  /** Runs a host document's scripts where the host's VMs run (inside the namespace, on a field host). */
  readonly launcher: ScriptLauncher;
  /** Runs a command where the host's VMs run: empty on a lab-shaped host, `ip netns exec <ns>` on a field one. */
  readonly commandPrefix: readonly string[];
  /** The network namespace of a field host; undefined on a lab-shaped one. */
  readonly netns: string | undefined;
  /** How a field host's VM is wired (its tap and addresses); throws on a lab-shaped host. */
  fieldVm(name: string): FieldVmWiring;
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

/** A Linux guest boots in about 10 s under TCG; seen at 106 s on 2 cores at a load average of 30. */
const LINUX_FIRST_HEARTBEAT_TIMEOUT_MS = 300_000;

/**
 * The heartbeat guest marks every page of its RAM before its first heartbeat: seconds per GiB, more on
 * hugetlbfs (each 2 MiB page is zeroed as it is first touched) and on a loaded machine.
 */
function markingTimeoutMs(argv: readonly string[]): number {
  const memoryMiB = Number(/^([0-9]+)M$/.exec(argv[argv.indexOf('-m') + 1] ?? '')?.[1] ?? 0);
  return 30_000 + 30 * memoryMiB;
}

export interface LabHostOptions {
  /** @default 'lab' */
  readonly shape?: LabShape;
}

export async function createLabHost(options: LabHostOptions = {}): Promise<LabHost> {
  const shape = options.shape ?? 'lab';
  const id = `h-${randomBytes(4).toString('hex')}`;
  const root = join(LAB_HOSTS_DIR, id);
  await mkdir(root, { recursive: true });
  openHosts.add(root);
  let field: FieldHost | undefined;
  try {
    if (shape === 'field') field = await createFieldHost(root);
  } catch (error) {
    openHosts.delete(root);
    await teardownHost(root);
    throw error;
  }
  const vms = new Map<string, VmInventoryEntry>();
  const wired = new Map<string, FieldVmWiring>();
  const launched = new Set<string>();
  const linux = new Set<string>();
  const wire = async (name: string, memoryMiB: number): Promise<FieldVmWiring | undefined> => {
    if (field === undefined) return undefined;
    const wiring = await field.wireVm(name, memoryMiB);
    wired.set(name, wiring);
    return wiring;
  };
  const commandPrefix = field?.commandPrefix ?? [];
  return {
    id,
    root,
    shape,
    vms,
    launcher: field === undefined ? localProcessLauncher : processLauncher(commandPrefix),
    commandPrefix,
    netns: field?.netns,
    fieldVm(name) {
      const wiring = wired.get(name);
      if (wiring === undefined) throw new Error(`no field-shaped VM ${name} on lab host ${id}`);
      return wiring;
    },
    async addVm(options) {
      const entry = await createTestVm(root, options, await wire(options.name, options.memoryMiB));
      vms.set(entry.name, entry);
      return entry;
    },
    async addLinuxVm(options) {
      const memoryMiB = options.memoryMiB ?? LINUX_DEFAULT_MEMORY_MIB;
      const entry = await createLinuxVm(root, { ...options, memoryMiB }, await wire(options.name, memoryMiB));
      vms.set(entry.name, entry);
      linux.add(entry.name);
      return entry;
    },
    async launch() {
      const pending = [...vms.values()].filter((entry) => !launched.has(entry.name));
      const started = await Promise.all(
        pending.map((entry) =>
          launchVm(entry, {
            commandPrefix,
            firstHeartbeatTimeoutMs: linux.has(entry.name)
              ? LINUX_FIRST_HEARTBEAT_TIMEOUT_MS
              : markingTimeoutMs(entry.argv),
          }),
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
