/**
 * The kernel level, raw, on a lab kernel host (kernel-host.ts): the 512-byte heartbeat guest runs
 * nested with its RAM on the preserved region /dev/pmem0; a cycle stops it, migrates its device state
 * with x-ignore-shared into /dev/pmem1, writes both regions back, loads the same kernel with the same
 * command line (`kexec -l --reuse-cmdline`), enters it (`kexec -e`, no firmware), waits for the new
 * kernel (a new boot id), and restores the guest in a new QEMU from that state over the RAM left in
 * place. Scripted from the lab through the guest agent; the QMP side runs inside the kernel host with
 * the agent's own QMP code (kernel-host-vm-state.py).
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { waitForHeartbeat } from './heartbeat-log.js';
import type { KernelHost } from './kernel-host.js';
import { announcedBoots } from './kernel-host-node.js';
import { REPO_ROOT } from './repo-paths.js';
import { buildTestGuest } from './test-guest.js';

export const VM_STATE_SCRIPT = join(REPO_ROOT, 'host', 'lab', 'kernel-host-vm-state.py');
/** A new kernel under TCG reaches init in 6-20 s, more on a busy machine. */
export const KEXEC_TIMEOUT_MS = 180_000;

export interface NestedVm {
  readonly name: string;
  readonly argv: readonly string[];
  /** Inside the kernel host (tmpfs: gone with each kernel). */
  readonly qmpSocket: string;
  /** In the shared lab directory: the same path inside and out. */
  readonly heartbeatLog: string;
  readonly qemuLog: string;
}

export function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The heartbeat guest with its RAM on the whole guest-RAM region, whatever its size (not started). */
export async function nestedHeartbeatVm(host: KernelHost, name: string): Promise<NestedVm> {
  const disk = join(host.root, `${name}.img`);
  await copyFile(await buildTestGuest(), disk);
  const qmpSocket = `/run/rejuv/${name}.qmp`;
  const heartbeatLog = join(host.root, `${name}.serial.log`);
  const ram = host.regions.guestRam;
  const size = `${ram.sizeMiB}M`;
  return {
    name,
    qmpSocket,
    heartbeatLog,
    qemuLog: join(host.root, `${name}.qemu.log`),
    argv: [
      'qemu-system-x86_64',
      '-name',
      name,
      '-accel',
      'tcg',
      '-machine',
      'pc,memory-backend=ram0',
      '-m',
      size,
      '-object',
      `memory-backend-file,id=ram0,size=${size},mem-path=${ram.device},share=on`,
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-drive',
      `file=${disk},format=raw,if=ide`,
      '-chardev',
      `file,id=heartbeat,path=${heartbeatLog},append=on`,
      '-serial',
      'chardev:heartbeat',
      '-qmp',
      `unix:${qmpSocket},server=on,wait=off`,
    ],
  };
}

/** Starts the VM's QEMU in the kernel host, detached, and waits for its QMP socket. */
export async function startNested(host: KernelHost, vm: NestedVm, extra: readonly string[]): Promise<void> {
  const command = [...vm.argv, ...extra].map(quote).join(' ');
  await host.sh(
    `mkdir -p /run/rejuv && (setsid ${command} </dev/null >>${quote(vm.qemuLog)} 2>&1 &) && ` +
      `for i in $(seq 1 100); do [ -S ${quote(vm.qmpSocket)} ] && exit 0; sleep 0.2; done; ` +
      `echo "no QMP socket: $(tail -c 500 ${quote(vm.qemuLog)})" >&2; exit 1`,
  );
}

/** Boots the VM in the kernel host; resolves once the guest printed its first heartbeat. */
export async function startNestedVm(host: KernelHost, vm: NestedVm): Promise<void> {
  await startNested(host, vm, []);
  await waitForHeartbeat(vm.heartbeatLog, 0, 60_000);
}

export interface KernelCycleResult {
  readonly bootIdBefore: string;
  readonly bootIdAfter: string;
  /** MD5 of the guest-RAM region, after the guest was stopped and written back / in the new kernel. */
  readonly ramDigestBefore: string;
  readonly ramDigestAfter: string;
  readonly stateBytes: number;
  /** Lab-side milliseconds of each phase, in order. */
  readonly phasesMs: {
    /** stop, save device state into /dev/pmem1, quit QEMU, write back (one guest-exec). */
    readonly save: number;
    /** Checksumming the region (test evidence, not part of a real cycle). */
    readonly digestBefore: number;
    readonly kexecLoad: number;
    /** `kexec -e` issued until the new kernel's /init printed `KH INIT`. */
    readonly kexecToInit: number;
    /** Until the new kernel's guest agent answered. */
    readonly initToAgent: number;
    readonly digestAfter: number;
    /** New QEMU with -incoming defer, device state loaded from /dev/pmem1, cont. */
    readonly restore: number;
  };
  /** Lab-side milliseconds from the stop to the guest running again, digests excluded. */
  readonly pauseMs: number;
}

async function digest(host: KernelHost, device: string): Promise<string> {
  const out = await host.sh(`md5sum ${device}`);
  const value = /^([0-9a-f]{32})\s/.exec(out)?.[1];
  if (value === undefined) throw new Error(`md5sum ${device} said: ${out}`);
  return value;
}

async function timed<T>(phase: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await phase();
  return [value, performance.now() - started];
}

/** When a kernel not among `earlier` announced itself: a second cycle must not take the first one's line. */
async function newKernelInit(host: KernelHost, earlier: ReadonlySet<string>): Promise<number> {
  const deadline = Date.now() + KEXEC_TIMEOUT_MS;
  for (;;) {
    if ([...(await announcedBoots(host))].some((id) => !earlier.has(id))) return performance.now();
    if (Date.now() > deadline)
      throw new Error(`kernel host ${host.id}: no new kernel within ${KEXEC_TIMEOUT_MS} ms of kexec -e`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One kernel-level reload of a kernel host with `vm` running on it. */
export async function kernelCycle(host: KernelHost, vm: NestedVm): Promise<KernelCycleResult> {
  const bootIdBefore = await host.bootId();
  const cycleStarted = performance.now();
  const [saved, save] = await timed(
    async () =>
      JSON.parse(
        await host.sh(
          `python3 ${quote(VM_STATE_SCRIPT)} save ${vm.qmpSocket} ${host.regions.deviceState.device}`,
        ),
      ) as { stateBytes: number },
  );
  const [ramDigestBefore, digestBefore] = await timed(() => digest(host, host.regions.guestRam.device));
  const { kernel, initrd } = host.image;
  const [, kexecLoad] = await timed(() =>
    host.sh(`kexec -l ${quote(kernel)} --initrd=${quote(initrd)} --reuse-cmdline`),
  );
  const earlierBoots = await announcedBoots(host);
  // In the background, so the guest agent's answer gets out before the kernel is replaced.
  await host.sh(`(setsid sh -c 'sleep 0.2; sync; kexec -e' </dev/null >/dev/null 2>&1 &)`);
  const kexecAt = performance.now() + 200;
  const initAt = await newKernelInit(host, earlierBoots);
  await host.waitForAgent(KEXEC_TIMEOUT_MS);
  const agentAt = performance.now();
  const bootIdAfter = await host.bootId();
  const [ramDigestAfter, digestAfter] = await timed(() => digest(host, host.regions.guestRam.device));
  const [, restore] = await timed(async () => {
    await startNested(host, vm, ['-incoming', 'defer']);
    await host.sh(
      `python3 ${quote(VM_STATE_SCRIPT)} restore ${vm.qmpSocket} ${host.regions.deviceState.device}`,
    );
  });
  const phasesMs = {
    save,
    digestBefore,
    kexecLoad,
    kexecToInit: initAt - kexecAt,
    initToAgent: agentAt - initAt,
    digestAfter,
    restore,
  };
  const pauseMs = performance.now() - cycleStarted - digestBefore - digestAfter;
  return {
    bootIdBefore,
    bootIdAfter,
    ramDigestBefore,
    ramDigestAfter,
    stateBytes: saved.stateBytes,
    phasesMs,
    pauseMs,
  };
}
