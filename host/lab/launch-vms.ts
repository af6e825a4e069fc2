/**
 * Starts VMs from a host's inventory the way a hypervisor's service manager would: the exact argv,
 * detached into its own session, output appended to `<stateDir>/qemu.log`. Resolves once the guest
 * is running and has printed its first heartbeat (so its RAM is marked and in use).
 */
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';
import { readInventory } from '../inventory/vm-inventory.js';
import { waitForHeartbeat } from './heartbeat-log.js';
import { queryStatus } from './qmp-client.js';

export interface LaunchedVm {
  readonly entry: VmInventoryEntry;
  readonly pid: number;
}

const START_TIMEOUT_MS = 30_000;

export interface LaunchOptions {
  /**
   * How long the guest may take from start to its first heartbeat.
   * @default 30 s (the 512-byte guest needs milliseconds; a Linux guest under TCG about 10 s)
   */
  readonly firstHeartbeatTimeoutMs?: number;
  /**
   * Starts QEMU through this command, which execs it in the same process (e.g. `ip netns exec <ns>`, for
   * a VM whose tap is in a network namespace).
   * @default none: QEMU is started directly
   */
  readonly commandPrefix?: readonly string[];
}

async function waitForRunning(entry: VmInventoryEntry, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const exit = exited();
    if (exit !== undefined)
      throw new Error(`QEMU for ${entry.name} exited (${exit}); see ${entry.stateDir}/qemu.log`);
    try {
      if ((await queryStatus(entry.qmpSocket)) === 'running') return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`QEMU for ${entry.name} did not come up within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function launchVm(entry: VmInventoryEntry, options: LaunchOptions = {}): Promise<LaunchedVm> {
  if (entry.argv[0] === undefined) throw new Error(`inventory entry ${entry.name} has an empty argv`);
  const [binary = '', ...args] = [...(options.commandPrefix ?? []), ...entry.argv];
  await mkdir(entry.stateDir, { recursive: true });
  const log = await open(join(entry.stateDir, 'qemu.log'), 'a');
  let exit: string | undefined;
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    child.once('exit', (code, signal) => (exit = `code ${code}, signal ${signal}`));
    child.once('error', (error) => (exit = error.message));
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${binary} for ${entry.name}`);
    await waitForRunning(entry, () => exit);
    await waitForHeartbeat(entry.heartbeat.log, 0, options.firstHeartbeatTimeoutMs ?? START_TIMEOUT_MS);
    return { entry, pid: child.pid };
  } finally {
    await log.close();
  }
}

/** Launches every VM in the host's inventory, in parallel. */
export async function launchHost(hostRoot: string): Promise<LaunchedVm[]> {
  return Promise.all((await readInventory(hostRoot)).map((entry) => launchVm(entry)));
}
