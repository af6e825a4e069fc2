/**
 * The lab's kernel host: a real Linux host for the `kernel` level. A TCG VM boots Debian's kernel with
 * two legacy persistent-memory regions on its command line (`memmap=64M!256M` → /dev/pmem0 for guest
 * RAM, `memmap=16M!384M` → /dev/pmem1 for device state; both start on a 128 MiB section boundary, which
 * the kernel needs), and its initramfs (host/guest/kernel-host/init) chroots into this machine's own /
 * shared read-only over 9p, so the host side is the same QEMU, python3 and agent as everywhere in the
 * lab. The lab host's directory is shared read-write at the same path inside, so files the kernel host
 * writes there (a nested guest's heartbeat log) are read from outside as they grow.
 *
 * Commands go through the QEMU guest agent (Debian's qemu-guest-agent) over virtio-serial: a real
 * component, already speaking a protocol with process execution, output capture and a resync after the
 * agent restarts, which is what a kexec does to it. kexec-tools and the agent are unpacked by
 * kernel-host-image.ts, not installed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  guestClock,
  guestExec,
  waitForGuestAgent,
  type GuestClockReading,
  type GuestExecResult,
} from './guest-agent-client.js';
import { buildKernelHostImage, type KernelHostImage } from './kernel-host-image.js';
import { LAB_HOSTS_DIR, REPO_ROOT } from './repo-paths.js';
import { teardownHost } from './teardown-host.js';

export interface PreservedRegion {
  readonly device: string;
  readonly offsetMiB: number;
  readonly sizeMiB: number;
}

/** The preserved regions by default: guest RAM, then device state. Offsets and sizes in MiB. */
export const GUEST_RAM_REGION = { device: '/dev/pmem0', offsetMiB: 256, sizeMiB: 64 } as const;
export const DEVICE_STATE_REGION = { device: '/dev/pmem1', offsetMiB: 384, sizeMiB: 16 } as const;

/** The kernel reserves a legacy pmem region only when it starts on a memory section boundary. */
const SECTION_MIB = 128;
const MAX_GUEST_RAM_MIB = 4096;
const MIN_MEMORY_MIB = 1024;
/** What the kernel host itself needs besides the regions: kernel, page cache, nested QEMU, python. */
const HOST_OWN_MEMORY_MIB = 600;

export interface KernelHostRegions {
  readonly guestRam: PreservedRegion;
  readonly deviceState: PreservedRegion;
}

/**
 * Guest RAM of `guestRamMiB` at 256 MiB, the device-state region on the next section boundary after
 * it. 64 MiB gives the default regions.
 */
export function kernelHostRegions(guestRamMiB: number): KernelHostRegions {
  if (!Number.isInteger(guestRamMiB) || guestRamMiB < 1 || guestRamMiB > MAX_GUEST_RAM_MIB)
    throw new Error(
      `guestRamMiB must be a whole number of MiB from 1 to ${MAX_GUEST_RAM_MIB}, not ${guestRamMiB}`,
    );
  const guestRam = { ...GUEST_RAM_REGION, sizeMiB: guestRamMiB };
  const stateOffsetMiB = guestRam.offsetMiB + Math.ceil(guestRamMiB / SECTION_MIB) * SECTION_MIB;
  return { guestRam, deviceState: { ...DEVICE_STATE_REGION, offsetMiB: stateOffsetMiB } };
}

/** The kernel host's RAM: 1 GiB, more when the regions reach past what that leaves the host itself. */
function kernelHostMemoryMiB(regions: KernelHostRegions): number {
  const regionsEnd = regions.deviceState.offsetMiB + regions.deviceState.sizeMiB;
  return Math.max(MIN_MEMORY_MIB, Math.ceil((regionsEnd + HOST_OWN_MEMORY_MIB) / SECTION_MIB) * SECTION_MIB);
}

export interface KernelHostOptions {
  /**
   * Size of the preserved guest-RAM region (/dev/pmem0), in MiB; the nested guest's RAM is all of it.
   * @default 64
   */
  readonly guestRamMiB?: number;
}
/** Boot to a guest agent that answers: about 10 s alone, several times that on a busy 2-core machine. */
const BOOT_TIMEOUT_MS = 180_000;

export interface KernelHost {
  readonly id: string;
  /** The lab host directory, shared read-write with the kernel host at the same path. */
  readonly root: string;
  readonly image: KernelHostImage;
  /** The kernel command line, which a kexec passes on unchanged (`--reuse-cmdline`). */
  readonly append: string;
  readonly regions: KernelHostRegions;
  /** Milliseconds from starting QEMU to the guest agent's first answer. */
  readonly bootMs: number;
  /** Runs `script` with /bin/sh in the kernel host; resolves whatever its exit code. */
  exec(script: string, options?: { timeoutMs?: number }): Promise<GuestExecResult>;
  /** Like `exec`, but throws (with its stderr) unless the script exits 0; resolves with its stdout. */
  sh(script: string, options?: { timeoutMs?: number }): Promise<string>;
  bootId(): Promise<string>;
  /**
   * The kernel host's wall clock against this machine's. A new kernel sets its clock from the RTC, to
   * the second, so times the host stamped before and after a kexec differ by this offset's change.
   */
  clock(): Promise<GuestClockReading>;
  /** Waits for the guest agent to answer again (after a kexec). */
  waitForAgent(timeoutMs?: number): Promise<void>;
  /** The kernel host's console (ttyS0): kernel messages and /init's `KH INIT`/`KH READY` markers. */
  console(): Promise<string>;
  /**
   * A cold reboot: the kernel resets the machine (sync, then sysrq `b`), QEMU exits on it
   * (`-no-reboot`) and is started again from scratch, firmware and kernel boot included, with the
   * same lab directory. Resolves with the milliseconds from the new QEMU's start to its guest agent's
   * first answer. Nested guests are gone: quit them first.
   */
  reboot(): Promise<number>;
  teardown(): Promise<void>;
}

const openKernelHosts = new Set<string>();

export function kernelHostAppend(
  image: KernelHostImage,
  root: string,
  regions: KernelHostRegions = { guestRam: GUEST_RAM_REGION, deviceState: DEVICE_STATE_REGION },
): string {
  const region = (r: PreservedRegion) => `memmap=${r.sizeMiB}M!${r.offsetMiB}M`;
  return [
    'console=ttyS0',
    'loglevel=4',
    'panic=-1',
    'no_timer_check',
    region(regions.guestRam),
    region(regions.deviceState),
    `rejuv.tools=${image.tools}`,
    // The checkout: the lab's scripts and the unpacked tools are read from it inside the chroot.
    `rejuv.repo=${REPO_ROOT}`,
    `rejuv.work=${root}`,
  ].join(' ');
}

function kernelHostArgv(image: KernelHostImage, root: string, append: string, memoryMiB: number): string[] {
  return [
    'qemu-system-x86_64',
    '-name',
    'kernel-host',
    '-accel',
    'tcg',
    '-machine',
    'pc',
    '-m',
    `${memoryMiB}M`,
    '-smp',
    '2',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // A panic (panic=-1 reboots at once) ends QEMU instead of looping; kexec is no reset to QEMU.
    '-no-reboot',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    append,
    '-fsdev',
    'local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap',
    '-device',
    'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev',
    `local,id=work,path=${root},security_model=none,multidevs=remap`,
    '-device',
    'virtio-9p-pci,fsdev=work,mount_tag=work',
    '-device',
    'virtio-serial-pci',
    '-chardev',
    `socket,id=qga,path=${join(root, 'qga.sock')},server=on,wait=off`,
    '-device',
    'virtserialport,chardev=qga,name=org.qemu.guest_agent.0',
    '-chardev',
    `file,id=console,path=${join(root, 'console.log')},append=on`,
    '-serial',
    'chardev:console',
  ];
}

interface Launch {
  /** Why QEMU ended, once it has. */
  exit: string | undefined;
  readonly exited: Promise<void>;
  readonly startedAt: number;
}

async function launchQemu(argv: readonly string[], root: string): Promise<Launch> {
  const [binary, ...args] = argv;
  if (binary === undefined) throw new Error('kernel host argv is empty');
  const log = await open(join(root, 'qemu.log'), 'a');
  try {
    const launch: Launch = {
      exit: undefined,
      startedAt: performance.now(),
      exited: new Promise<void>((resolve) => {
        const child = spawn(binary, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
        child.once('exit', (code, signal) => {
          launch.exit = `code ${code}, signal ${signal}`;
          resolve();
        });
        child.once('error', (error) => {
          launch.exit = error.message;
          resolve();
        });
        child.unref();
      }),
    };
    return launch;
  } finally {
    await log.close();
  }
}

/** A cold reboot: QEMU exits on the reset (`-no-reboot`). */
const REBOOT_EXIT_TIMEOUT_MS = 60_000;

/** Boots a kernel host and waits until its guest agent answers. */
export async function startKernelHost(options: KernelHostOptions = {}): Promise<KernelHost> {
  const regions = kernelHostRegions(options.guestRamMiB ?? GUEST_RAM_REGION.sizeMiB);
  const image = await buildKernelHostImage();
  const id = `k-${randomBytes(4).toString('hex')}`;
  const root = join(LAB_HOSTS_DIR, id);
  await mkdir(root, { recursive: true });
  openKernelHosts.add(root);
  const append = kernelHostAppend(image, root, regions);
  const argv = kernelHostArgv(image, root, append, kernelHostMemoryMiB(regions));
  let launch = await launchQemu(argv, root);
  const agentSocket = join(root, 'qga.sock');
  const waitForAgent = async (timeoutMs = BOOT_TIMEOUT_MS): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (launch.exit !== undefined)
        throw new Error(`kernel host ${id} exited (${launch.exit}); see ${root}/qemu.log and console.log`);
      try {
        await waitForGuestAgent(agentSocket, Math.min(10_000, Math.max(0, deadline - Date.now())));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  };
  const exec: KernelHost['exec'] = (script, options = {}) =>
    guestExec(agentSocket, ['/bin/sh', '-c', script], options);
  const host: KernelHost = {
    id,
    root,
    image,
    append,
    regions,
    bootMs: 0,
    exec,
    async sh(script, options) {
      const result = await exec(script, options);
      if (result.exitCode !== 0)
        throw new Error(
          `kernel host ${id}: exit ${result.exitCode} from ${script.slice(0, 200)}\n${result.stderr}`,
        );
      return result.stdout;
    },
    async bootId() {
      return (await host.sh('cat /proc/sys/kernel/random/boot_id')).trim();
    },
    clock: () => guestClock(agentSocket),
    waitForAgent,
    console: () => readFile(join(root, 'console.log'), 'utf8').catch(() => ''),
    async reboot() {
      // Detached and delayed, so the guest agent's answer gets out before the machine resets.
      await host.sh(
        `(setsid sh -c 'sleep 0.2; sync; echo b >/proc/sysrq-trigger' </dev/null >/dev/null 2>&1 &)`,
      );
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(resolve, REBOOT_EXIT_TIMEOUT_MS, 'timeout'),
      );
      if ((await Promise.race([launch.exited, timeout])) === 'timeout')
        throw new Error(
          `kernel host ${id}: QEMU did not exit within ${REBOOT_EXIT_TIMEOUT_MS} ms of the reset`,
        );
      launch = await launchQemu(argv, root);
      await waitForAgent();
      return performance.now() - launch.startedAt;
    },
    async teardown() {
      openKernelHosts.delete(root);
      await teardownHost(root);
    },
  };
  try {
    await waitForAgent();
  } catch (error) {
    await host.teardown();
    throw error;
  }
  return { ...host, bootMs: performance.now() - launch.startedAt };
}

/** Tears down every kernel host this process started and has not torn down yet. */
export async function teardownOpenKernelHosts(): Promise<void> {
  await Promise.all([...openKernelHosts].map((root) => teardownHost(root)));
  openKernelHosts.clear();
}
