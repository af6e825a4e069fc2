/**
 * Inventory entries for the lab's Linux guest (host/guest/linux/init): Debian's kernel with a busybox
 * initramfs, 2 vCPUs, RAM in a shared /dev/shm file, a virtio-blk data disk and virtio-net on QEMU's
 * user network, wired so the warm path hands it over exactly as it does the 512-byte guest: the QMP
 * socket is the only listening socket, and every serial port is a file or a FIFO both processes of a
 * handover can open.
 *
 * The request port is a FIFO that QEMU opens read-write (a `pipe` chardev), so it never sees an end
 * of file and never blocks on open. While a handover is under way both processes read from it, so
 * requests are sent only when one process runs the VM.
 *
 * On a field-shaped host (host/lab/field-host.ts) the same guest has its RAM on hugetlbfs, virtio-net on
 * a tap it gives itself an address behind (`rejuv.ip=`; it then serves a TCP echo on port 7), and two
 * qcow2 disks over raw backing files: the data disk, and a write log it writes a numbered record to
 * about every 20 ms, each flushed to the disk (`rejuv.log=vdb`; read by host/lab/guest-write-log.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeInventoryEntry, type VmInventoryEntry } from '../inventory/vm-inventory.js';
import { createFieldDisk, type FieldVmWiring } from './field-host.js';
import { buildLinuxGuest } from './linux-guest.js';
import { HEARTBEAT_PATTERN } from './test-guest.js';
import { shmRamPath } from './test-vm.js';

const run = promisify(execFile);

export const LINUX_DEFAULT_MEMORY_MIB = 256;

export interface LinuxVmOptions {
  readonly name: string;
  /** @default 256 */
  readonly memoryMiB?: number;
}

/** Room for the guest's ext2 filesystem and its 32 MiB of files to read. */
const DATA_DISK_BYTES = 64 << 20;
const CONTROL_CHARDEV_PREFIX = 'pipe,id=control,path=';

/** Where a Linux VM's argv puts its RAM, disk, serial ports and QMP socket. */
export interface LinuxGuestWiring {
  readonly name: string;
  readonly memoryMiB: number;
  /** The memory-backend-file (share=on) that holds all of guest RAM. */
  readonly ramPath: string;
  readonly disk: string;
  readonly heartbeatLog: string;
  /** The request FIFO (it must exist before QEMU starts). */
  readonly control: string;
  readonly consoleLog: string;
  readonly qmpSocket: string;
  /** @default 2 */
  readonly cpus?: number;
  /** @default the raw `disk` alone */
  readonly disks?: readonly GuestDisk[];
  /** @default QEMU's user network */
  readonly network?: { readonly netdev: string; readonly nic: string };
  /** Appended to the guest's kernel command line (the `rejuv.` options /init reads). */
  readonly appendOptions?: readonly string[];
}

export interface GuestDisk {
  readonly path: string;
  readonly format: 'raw' | 'qcow2';
}

/** The TCP port the guest's echo service listens on when it has an address of its own. */
export const LINUX_GUEST_ECHO_PORT = 7;
/** The field guest's write log: 512-byte records on its second virtio disk. */
const WRITE_LOG_DISK = 'vdb';
const WRITE_LOG_SUFFIX = '-log.qcow2';

/** The Linux guest's QEMU argv, wired as described above; also used nested in a lab kernel host. */
export async function linuxGuestArgv(wiring: LinuxGuestWiring): Promise<string[]> {
  const { name, memoryMiB, disk, heartbeatLog, control, qmpSocket } = wiring;
  const guest = await buildLinuxGuest();
  const disks = wiring.disks ?? [{ path: disk, format: 'raw' }];
  const network = wiring.network ?? { netdev: 'user,id=net0', nic: 'virtio-net-pci,netdev=net0' };
  return [
    'qemu-system-x86_64',
    '-name',
    name,
    '-accel',
    'tcg',
    '-machine',
    'pc,memory-backend=ram0',
    '-m',
    `${memoryMiB}M`,
    '-object',
    `memory-backend-file,id=ram0,size=${memoryMiB}M,mem-path=${wiring.ramPath},share=on`,
    '-smp',
    String(wiring.cpus ?? 2),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-kernel',
    guest.kernel,
    '-initrd',
    guest.initrd,
    '-append',
    [guest.append, ...(wiring.appendOptions ?? [])].join(' '),
    ...disks.flatMap((d) => ['-drive', `file=${d.path},format=${d.format},if=virtio`]),
    '-netdev',
    network.netdev,
    '-device',
    network.nic,
    '-chardev',
    `file,id=heartbeat,path=${heartbeatLog},append=on`,
    '-serial',
    'chardev:heartbeat',
    '-chardev',
    `${CONTROL_CHARDEV_PREFIX}${control}`,
    '-serial',
    'chardev:control',
    '-chardev',
    `file,id=console,path=${wiring.consoleLog},append=on`,
    '-serial',
    'chardev:console',
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
  ];
}

/** Sparse and empty: the guest makes its filesystem on first boot (no mkfs needed on this machine). */
export async function createLinuxDataDisk(path: string): Promise<void> {
  const image = await open(path, 'w');
  await image.truncate(DATA_DISK_BYTES);
  await image.close();
}

/** A field VM's disks, wiring and kernel options: see the top of this file. */
async function fieldWiring(
  images: string,
  name: string,
  field: FieldVmWiring,
): Promise<Pick<LinuxGuestWiring, 'ramPath' | 'disks' | 'network' | 'appendOptions'>> {
  const data = join(images, `${name}-data.qcow2`);
  const log = join(images, `${name}${WRITE_LOG_SUFFIX}`);
  await createFieldDisk(data, { bytes: DATA_DISK_BYTES });
  await createFieldDisk(log, { bytes: DATA_DISK_BYTES });
  return {
    ramPath: field.ramPath,
    disks: [
      { path: data, format: 'qcow2' },
      { path: log, format: 'qcow2' },
    ],
    network: { netdev: field.netdev, nic: field.nic },
    appendOptions: [`rejuv.ip=${field.guestCidr}`, `rejuv.log=${WRITE_LOG_DISK}`],
  };
}

/** The image of a field Linux VM's write log (its second disk); undefined for other VMs. */
export function linuxGuestWriteLog(entry: VmInventoryEntry): string | undefined {
  return entry.argv
    .filter((_, index) => entry.argv[index - 1] === '-drive')
    .map((drive) => /^file=([^,]+)/.exec(drive)?.[1])
    .find((file) => file?.endsWith(WRITE_LOG_SUFFIX) === true);
}

export async function createLinuxVm(
  hostRoot: string,
  options: LinuxVmOptions,
  field?: FieldVmWiring,
): Promise<VmInventoryEntry> {
  const { name } = options;
  const memoryMiB = options.memoryMiB ?? LINUX_DEFAULT_MEMORY_MIB;
  const qmpSocket = join(hostRoot, 'run', 'rejuv', `${name}.qmp`);
  const control = join(hostRoot, 'run', 'rejuv', `${name}.control`);
  const stateDir = join(hostRoot, 'var', 'lib', 'rejuv', 'vms', name);
  const logDir = join(hostRoot, 'var', 'log', 'rejuv');
  const heartbeatLog = join(logDir, `${name}.serial.log`);
  const images = join(hostRoot, 'var', 'lib', 'rejuv', 'images');
  const disk = join(images, `${name}.img`);
  for (const dir of ['run/rejuv', 'var/log/rejuv', 'var/lib/rejuv/images'])
    await mkdir(join(hostRoot, dir), { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const shaped = field === undefined ? undefined : await fieldWiring(images, name, field);
  if (shaped === undefined) await createLinuxDataDisk(disk);
  await run('mkfifo', ['-m', '600', control]);
  const entry: VmInventoryEntry = {
    schemaVersion: 1,
    name,
    argv: await linuxGuestArgv({
      name,
      memoryMiB,
      ramPath: shmRamPath(hostRoot, name),
      disk,
      heartbeatLog,
      control,
      consoleLog: join(logDir, `${name}.console.log`),
      qmpSocket,
      ...shaped,
    }),
    qmpSocket,
    stateDir,
    heartbeat: { log: heartbeatLog, pattern: HEARTBEAT_PATTERN },
  };
  await writeInventoryEntry(hostRoot, entry);
  return entry;
}

/** The FIFO a Linux VM's guest reads requests from, as its argv names it; undefined for other guests. */
export function linuxGuestControlPath(entry: VmInventoryEntry): string | undefined {
  return entry.argv
    .find((arg) => arg.startsWith(CONTROL_CHARDEV_PREFIX))
    ?.slice(CONTROL_CHARDEV_PREFIX.length);
}
