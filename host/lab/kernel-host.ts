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
import { guestExec, waitForGuestAgent, type GuestExecResult } from './guest-agent-client.js';
import { buildKernelHostImage, type KernelHostImage } from './kernel-host-image.js';
import { LAB_HOSTS_DIR, REPO_ROOT } from './repo-paths.js';
import { teardownHost } from './teardown-host.js';

/** The preserved regions: guest RAM, then device state. Offsets and sizes in MiB. */
export const GUEST_RAM_REGION = { device: '/dev/pmem0', offsetMiB: 256, sizeMiB: 64 } as const;
export const DEVICE_STATE_REGION = { device: '/dev/pmem1', offsetMiB: 384, sizeMiB: 16 } as const;

const MEMORY_MIB = 1024;
/** Boot to a guest agent that answers: about 10 s alone, several times that on a busy 2-core machine. */
const BOOT_TIMEOUT_MS = 180_000;

export interface KernelHost {
  readonly id: string;
  /** The lab host directory, shared read-write with the kernel host at the same path. */
  readonly root: string;
  readonly image: KernelHostImage;
  /** The kernel command line, which a kexec passes on unchanged (`--reuse-cmdline`). */
  readonly append: string;
  /** Milliseconds from starting QEMU to the guest agent's first answer. */
  readonly bootMs: number;
  /** Runs `script` with /bin/sh in the kernel host; resolves whatever its exit code. */
  exec(script: string, options?: { timeoutMs?: number }): Promise<GuestExecResult>;
  /** Like `exec`, but throws (with its stderr) unless the script exits 0; resolves with its stdout. */
  sh(script: string, options?: { timeoutMs?: number }): Promise<string>;
  bootId(): Promise<string>;
  /** Waits for the guest agent to answer again (after a kexec). */
  waitForAgent(timeoutMs?: number): Promise<void>;
  /** The kernel host's console (ttyS0): kernel messages and /init's `KH INIT`/`KH READY` markers. */
  console(): Promise<string>;
  teardown(): Promise<void>;
}

const openKernelHosts = new Set<string>();

export function kernelHostAppend(image: KernelHostImage, root: string): string {
  const region = (r: { offsetMiB: number; sizeMiB: number }) => `memmap=${r.sizeMiB}M!${r.offsetMiB}M`;
  return [
    'console=ttyS0',
    'loglevel=4',
    'panic=-1',
    'no_timer_check',
    region(GUEST_RAM_REGION),
    region(DEVICE_STATE_REGION),
    `rejuv.tools=${image.tools}`,
    // The checkout: the lab's scripts and the unpacked tools are read from it inside the chroot.
    `rejuv.repo=${REPO_ROOT}`,
    `rejuv.work=${root}`,
  ].join(' ');
}

function kernelHostArgv(image: KernelHostImage, root: string, append: string): string[] {
  return [
    'qemu-system-x86_64',
    '-name',
    'kernel-host',
    '-accel',
    'tcg',
    '-machine',
    'pc',
    '-m',
    `${MEMORY_MIB}M`,
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

/** Boots a kernel host and waits until its guest agent answers. */
export async function startKernelHost(): Promise<KernelHost> {
  const image = await buildKernelHostImage();
  const id = `k-${randomBytes(4).toString('hex')}`;
  const root = join(LAB_HOSTS_DIR, id);
  await mkdir(root, { recursive: true });
  openKernelHosts.add(root);
  const append = kernelHostAppend(image, root);
  const [binary, ...args] = kernelHostArgv(image, root, append);
  if (binary === undefined) throw new Error('kernel host argv is empty');
  const log = await open(join(root, 'qemu.log'), 'a');
  let exit: string | undefined;
  const started = performance.now();
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    child.once('exit', (code, signal) => (exit = `code ${code}, signal ${signal}`));
    child.once('error', (error) => (exit = error.message));
    child.unref();
  } finally {
    await log.close();
  }
  const agentSocket = join(root, 'qga.sock');
  const waitForAgent = async (timeoutMs = BOOT_TIMEOUT_MS): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exit !== undefined)
        throw new Error(`kernel host ${id} exited (${exit}); see ${root}/qemu.log and console.log`);
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
    waitForAgent,
    console: () => readFile(join(root, 'console.log'), 'utf8').catch(() => ''),
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
  return { ...host, bootMs: performance.now() - started };
}

/** Tears down every kernel host this process started and has not torn down yet. */
export async function teardownOpenKernelHosts(): Promise<void> {
  await Promise.all([...openKernelHosts].map((root) => teardownHost(root)));
  openKernelHosts.clear();
}
