/**
 * Inventory entries for the heartbeat test guest. The RAM variants are what Preflight tells apart:
 * `shared-shm` and `shared-file` survive a QEMU restart (memory-backend-file, share=on), `private`
 * (plain -m) and `memfd` (memory-backend-memfd, which dies with its process on QEMU 7.2) do not.
 * On a field-shaped host (host/lab/field-host.ts) the guest's RAM is on hugetlbfs, it boots from a
 * qcow2 overlay over a copy of its image, has a second (blank) qcow2 disk, and a virtio-net NIC on a tap
 * (the 512-byte guest does not drive either: they are there for the handover to carry).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeInventoryEntry, type VmInventoryEntry } from '../inventory/vm-inventory.js';
import { createFieldDisk, type FieldVmWiring } from './field-host.js';
import { buildTestGuest, HEARTBEAT_PATTERN } from './test-guest.js';

export type GuestRam = 'shared-shm' | 'shared-file' | 'private' | 'memfd';

export interface TestVmOptions {
  readonly name: string;
  readonly memoryMiB: number;
  /** @default 'shared-shm' */
  readonly ram?: GuestRam;
  /**
   * Runs the leaking heartbeat guest: its QEMU process's memory grows by this many translated blocks
   * per tick (about 0.6 KiB each), until a new QEMU process (a warm reboot) starts it over.
   * @default 0 - the plain guest, whose QEMU process's memory stays flat
   */
  readonly leakCallsPerTick?: number;
}

/** The field VM's second disk: blank, for the handover to carry an open qcow2 the guest does not use. */
const SPARE_DISK_BYTES = 16 << 20;

/** Linux limits a unix socket path to 107 bytes; QEMU fails obscurely past it. */
const MAX_SOCKET_PATH = 107;

/** The /dev/shm file of a host's VM; the host directory's name keeps hosts apart. */
export function shmRamPath(hostRoot: string, name: string): string {
  return join('/dev/shm', `rejuv-${basename(hostRoot)}-${name}.ram`);
}

function ramArguments(hostRoot: string, name: string, memoryMiB: number, ram: GuestRam): string[] {
  switch (ram) {
    case 'private':
      return ['-machine', 'pc', '-m', `${memoryMiB}M`];
    case 'memfd':
      return backendRam(memoryMiB, 'memory-backend-memfd', 'share=on');
    case 'shared-shm':
    case 'shared-file':
      return sharedFileRam(
        memoryMiB,
        ram === 'shared-shm'
          ? shmRamPath(hostRoot, name)
          : join(hostRoot, 'var', 'lib', 'rejuv', 'ram', `${name}.ram`),
      );
  }
}

/** Guest RAM in one memory backend object, `ram0`, of the given type and options. */
function backendRam(memoryMiB: number, backend: string, options: string): string[] {
  return [
    '-machine',
    'pc,memory-backend=ram0',
    '-m',
    `${memoryMiB}M`,
    '-object',
    `${backend},id=ram0,size=${memoryMiB}M,${options}`,
  ];
}

function sharedFileRam(memoryMiB: number, memPath: string): string[] {
  return backendRam(memoryMiB, 'memory-backend-file', `mem-path=${memPath},share=on`);
}

/** A field VM's RAM and devices; its boot disk an overlay over a copy of `image`. */
async function fieldArguments(
  images: string,
  options: TestVmOptions,
  field: FieldVmWiring,
  image: string,
): Promise<{ ram: string[]; devices: string[] }> {
  if ((options.ram ?? 'shared-shm') !== 'shared-shm')
    throw new Error(`a field VM's RAM is on hugetlbfs; ram: ${options.ram} is for lab-shaped hosts`);
  const boot = join(images, `${options.name}-boot.qcow2`);
  const spare = join(images, `${options.name}-spare.qcow2`);
  await createFieldDisk(boot, { copyOf: image });
  await createFieldDisk(spare, { bytes: SPARE_DISK_BYTES });
  return {
    ram: sharedFileRam(options.memoryMiB, field.ramPath),
    devices: [
      '-drive',
      `file=${boot},format=qcow2,if=ide`,
      '-drive',
      `file=${spare},format=qcow2,if=virtio`,
      '-netdev',
      field.netdev,
      '-device',
      field.nic,
    ],
  };
}

/** Writes the VM's inventory entry (and its disk and directories) under the host root. */
export async function createTestVm(
  hostRoot: string,
  options: TestVmOptions,
  field?: FieldVmWiring,
): Promise<VmInventoryEntry> {
  const { name, memoryMiB } = options;
  const ram = options.ram ?? 'shared-shm';
  const qmpSocket = join(hostRoot, 'run', 'rejuv', `${name}.qmp`);
  if (Buffer.byteLength(qmpSocket) > MAX_SOCKET_PATH)
    throw new Error(`QMP socket path is longer than ${MAX_SOCKET_PATH} bytes: ${qmpSocket}`);
  const stateDir = join(hostRoot, 'var', 'lib', 'rejuv', 'vms', name);
  const heartbeatLog = join(hostRoot, 'var', 'log', 'rejuv', `${name}.serial.log`);
  const disk = join(hostRoot, 'var', 'lib', 'rejuv', 'images', `${name}.img`);
  for (const dir of ['run/rejuv', 'var/log/rejuv', 'var/lib/rejuv/images', 'var/lib/rejuv/ram'])
    await mkdir(join(hostRoot, dir), { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const image = await buildTestGuest(options.leakCallsPerTick ?? 0);
  const { ram: ramArgs, devices } =
    field === undefined
      ? {
          ram: ramArguments(hostRoot, name, memoryMiB, ram),
          devices: ['-drive', `file=${disk},format=raw,if=ide`],
        }
      : await fieldArguments(join(hostRoot, 'var', 'lib', 'rejuv', 'images'), options, field, image);
  if (field === undefined) await copyFile(image, disk);
  const entry: VmInventoryEntry = {
    schemaVersion: 1,
    name,
    argv: [
      'qemu-system-x86_64',
      '-name',
      name,
      '-accel',
      'tcg',
      ...ramArgs,
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      ...devices,
      '-chardev',
      `file,id=heartbeat,path=${heartbeatLog},append=on`,
      '-serial',
      'chardev:heartbeat',
      '-qmp',
      `unix:${qmpSocket},server=on,wait=off`,
    ],
    qmpSocket,
    stateDir,
    heartbeat: { log: heartbeatLog, pattern: HEARTBEAT_PATTERN },
  };
  await writeInventoryEntry(hostRoot, entry);
  return entry;
}
