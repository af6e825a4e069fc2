/**
 * The host agent's `kernel` level on a lab kernel host (kernel-host.ts). The shared lab directory is
 * the agent's host root (REJUV_HOST_ROOT) inside: the VM's inventory entry and `kernel-reload.json`
 * (state region /dev/pmem1, the kernel host's own kernel and initrd) are written there from outside.
 * Subcommands run through the guest agent, and `runLikeSsm` plays the SSM Agent's part on exit 194:
 * wait for the new kernel, then run the same command again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GuestExecResult } from './guest-agent-client.js';
import { KEXEC_TIMEOUT_MS, type NestedVm } from './kernel-host-cycle.js';
import { announcedBoots, waitForNewKernel } from './kernel-host-node.js';
import type { KernelHost } from './kernel-host.js';
import { REPO_ROOT } from './repo-paths.js';
import { HEARTBEAT_PATTERN } from './test-guest.js';

/** The agent's launcher directory (host/agent/__main__.py runs the rejuv_agent package beside it). */
const AGENT = join(REPO_ROOT, 'host', 'agent');
const EXIT_REBOOT = 194;
/** Python and QEMU start inside an emulated CPU, nested guests are double-emulated: minutes, not ms. */
const AGENT_TIMEOUT_MS = 240_000;

/** Lists `vm` in the lab host's inventory and names the regions and kernel the kernel level uses. */
export async function installKernelHostAgent(host: KernelHost, vm: NestedVm): Promise<void> {
  const inventory = join(host.root, 'etc', 'rejuv', 'vms.d');
  await mkdir(inventory, { recursive: true });
  const entry = {
    schemaVersion: 1,
    name: vm.name,
    argv: vm.argv,
    qmpSocket: vm.qmpSocket,
    stateDir: join(host.root, 'var', 'lib', 'rejuv', 'vms', vm.name),
    heartbeat: { log: vm.heartbeatLog, pattern: HEARTBEAT_PATTERN },
  };
  await writeFile(join(inventory, `${vm.name}.json`), JSON.stringify(entry, null, 2));
  const settings = {
    schemaVersion: 1,
    stateRegion: host.regions.deviceState.device,
    kernel: host.image.kernel,
    initrd: host.image.initrd,
  };
  await writeFile(join(host.root, 'etc', 'rejuv', 'kernel-reload.json'), JSON.stringify(settings, null, 2));
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** One agent subcommand in the kernel host, as the documents run it (python3 -I, host root set). */
export async function runKernelHostAgent(
  host: KernelHost,
  args: readonly string[],
): Promise<GuestExecResult> {
  const command = ['python3', '-I', AGENT, ...args].map(quote).join(' ');
  return host.exec(`REJUV_HOST_ROOT=${quote(host.root)} ${command}`, { timeoutMs: AGENT_TIMEOUT_MS });
}

export interface SsmLikeRun {
  /** Each run of the script: the first, and the rerun after a reboot it asked for with 194. */
  readonly runs: readonly GuestExecResult[];
  readonly bootIds: readonly string[];
  /** When each run was started (performance.now()): the rerun's is when the host was back for SSM. */
  readonly startedAtMs: readonly number[];
}

/**
 * What the SSM Agent does with a script that exits 194: the invocation stays in progress, the node
 * reboots (here the agent's own scheduled kexec does it), and the same script runs again after it.
 */
export async function runLikeSsm(host: KernelHost, args: readonly string[]): Promise<SsmLikeRun> {
  const runs: GuestExecResult[] = [];
  const startedAtMs: number[] = [];
  const bootIds = [await host.bootId()];
  for (;;) {
    const bootsBefore = await announcedBoots(host);
    startedAtMs.push(performance.now());
    const run = await runKernelHostAgent(host, args);
    runs.push(run);
    if (run.exitCode !== EXIT_REBOOT) return { runs, bootIds, startedAtMs };
    if (runs.length > 2) throw new Error(`the agent asked for a reboot ${runs.length} times: ${run.stderr}`);
    await waitForNewKernel(host, bootsBefore, { timeoutMs: KEXEC_TIMEOUT_MS });
    bootIds.push(await host.bootId());
  }
}
