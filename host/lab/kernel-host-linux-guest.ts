/**
 * The lab's Linux guest (linux-vm.ts: Debian's kernel, busybox, virtio-blk and virtio-net) nested in a
 * lab kernel host (kernel-host.ts), with all of its RAM on the preserved guest-RAM region. Its argv is
 * what the host agent restores after a kexec: the kernel and initramfs are read from this checkout
 * (the kernel host sees this machine's / read-only), the disk, the serial logs and the request FIFO
 * are in the shared lab directory (they outlive every kernel of the kernel host), the QMP socket is
 * on the kernel host's tmpfs like the heartbeat guest's.
 *
 * The request FIFO is a node on this machine's disk, but a FIFO's pipe belongs to the kernel that
 * opens it: QEMU opens it inside the kernel host, so requests are written there too, through the
 * guest agent. Replies come back on the heartbeat log, which is read from outside as it grows.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';
import { quote, type NestedVm } from './kernel-host-cycle.js';
import type { KernelHost } from './kernel-host.js';
import type { AskOptions, RequestSender } from './linux-guest-requests.js';
import { createLinuxDataDisk, linuxGuestArgv } from './linux-vm.js';
import { HEARTBEAT_PATTERN } from './test-guest.js';

const run = promisify(execFile);

/**
 * Checked under TCG: with 64 MiB Debian's kernel resets before its first message (a nested guest then
 * loops in its firmware); 96 MiB boots.
 */
export const MIN_LINUX_GUEST_RAM_MIB = 96;
/** What /init looks for on the data disk: 64 files of 512 KiB (host/guest/linux/init). */
const DATA_FILES = 64;
const DATA_FILE_BYTES = 512 << 10;
/** A request write blocks only while no QEMU holds the FIFO: give up then instead of hanging. */
const SEND_TIMEOUT_S = 10;

export interface NestedLinuxVm extends NestedVm {
  /** The inventory view the lab's request helpers read (the FIFO in its argv, the heartbeat log). */
  readonly entry: VmInventoryEntry;
  /** Pass to askLinuxGuest and friends: requests are written inside the kernel host. */
  readonly ask: AskOptions;
}

/**
 * The guest's data disk, made here when this machine has mke2fs (`-d` fills it from a directory), so
 * the nested first boot does not write 32 MiB of random files through two layers of emulation; else
 * left empty for the guest's own first boot to make, as on a lab host.
 */
async function prepareDataDisk(path: string): Promise<void> {
  await createLinuxDataDisk(path);
  const files = await mkdtemp(`${path}.files-`);
  try {
    for (let i = 1; i <= DATA_FILES; i++) {
      const file = await open(join(files, `file-${i}`), 'w');
      await file.write(randomBytes(DATA_FILE_BYTES));
      await file.close();
    }
    await run('mke2fs', ['-q', '-F', '-t', 'ext2', '-d', files, path]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await createLinuxDataDisk(path);
  } finally {
    await rm(files, { recursive: true, force: true });
  }
}

/** Writes a request line into the FIFO inside the kernel host. */
function senderIn(host: KernelHost): RequestSender {
  return async (control, line) => {
    await host.sh(
      `timeout ${SEND_TIMEOUT_S} sh -c ${quote(`printf '%s' ${quote(line)} >${quote(control)}`)}`,
    );
  };
}

/** The Linux guest with its RAM on the whole guest-RAM region (not started). */
export async function nestedLinuxVm(
  host: KernelHost,
  name: string,
  options: { readonly cpus?: number } = {},
): Promise<NestedLinuxVm> {
  const ram = host.regions.guestRam;
  if (ram.sizeMiB < MIN_LINUX_GUEST_RAM_MIB)
    throw new Error(
      `the Linux guest needs at least ${MIN_LINUX_GUEST_RAM_MIB} MiB of RAM; the kernel host's guest-RAM region has ${ram.sizeMiB} MiB`,
    );
  const disk = join(host.root, `${name}.img`);
  const control = join(host.root, `${name}.control`);
  const heartbeatLog = join(host.root, `${name}.serial.log`);
  const qmpSocket = `/run/rejuv/${name}.qmp`;
  await mkdir(host.root, { recursive: true });
  await prepareDataDisk(disk);
  await run('mkfifo', ['-m', '600', control]);
  const argv = await linuxGuestArgv({
    name,
    memoryMiB: ram.sizeMiB,
    ramPath: ram.device,
    disk,
    heartbeatLog,
    control,
    consoleLog: join(host.root, `${name}.console.log`),
    qmpSocket,
    ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
  });
  return {
    name,
    argv,
    qmpSocket,
    heartbeatLog,
    qemuLog: join(host.root, `${name}.qemu.log`),
    entry: {
      schemaVersion: 1,
      name,
      argv,
      qmpSocket,
      stateDir: join(host.root, 'var', 'lib', 'rejuv', 'vms', name),
      heartbeat: { log: heartbeatLog, pattern: HEARTBEAT_PATTERN },
    },
    ask: { send: senderIn(host) },
  };
}
