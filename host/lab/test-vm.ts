/**
 * Inventory entries for the heartbeat test guest. The RAM variants are what Preflight tells apart:
 * `shared-shm` and `shared-file` survive a QEMU restart (memory-backend-file, share=on), `private`
 * (plain -m) and `memfd` (memory-backend-memfd, which dies with its process on QEMU 7.2) do not.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeInventoryEntry, type VmInventoryEntry } from '../inventory/vm-inventory.js';
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

/** Linux limits a unix socket path to 107 bytes; QEMU fails obscurely past it. */
const MAX_SOCKET_PATH = 107;

/** The /dev/shm file of a host's VM; the host directory's name keeps hosts apart. */
export function shmRamPath(hostRoot: string, name: string): string {
  return join('/dev/shm', `rejuv-${basename(hostRoot)}-${name}.ram`);
}

function ramArguments(hostRoot: string, name: string, memoryMiB: number, ram: GuestRam): string[] {
  const size = `size=${memoryMiB}M`;
  switch (ram) {
    case 'private':
      return ['-machine', 'pc', '-m', `${memoryMiB}M`];
    case 'memfd':
      return [
        '-machine',
        'pc,memory-backend=ram0',
        '-m',
        `${memoryMiB}M`,
        '-object',
        `memory-backend-memfd,id=ram0,${size},share=on`,
      ];
    case 'shared-shm':
    case 'shared-file': {
      const memPath =
        ram === 'shared-shm'
          ? shmRamPath(hostRoot, name)
          : join(hostRoot, 'var', 'lib', 'rejuv', 'ram', `${name}.ram`);
      return [
        '-machine',
        'pc,memory-backend=ram0',
        '-m',
        `${memoryMiB}M`,
        '-object',
        `memory-backend-file,id=ram0,${size},mem-path=${memPath},share=on`,
      ];
    }
  }
}

/** Writes the VM's inventory entry (and its disk and directories) under the host root. */
export async function createTestVm(hostRoot: string, options: TestVmOptions): Promise<VmInventoryEntry> {
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
  await copyFile(await buildTestGuest(options.leakCallsPerTick ?? 0), disk);
  const entry: VmInventoryEntry = {
    schemaVersion: 1,
    name,
    argv: [
      'qemu-system-x86_64',
      '-name',
      name,
      '-accel',
      'tcg',
      ...ramArguments(hostRoot, name, memoryMiB, ram),
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
    qmpSocket,
    stateDir,
    heartbeat: { log: heartbeatLog, pattern: HEARTBEAT_PATTERN },
  };
  await writeInventoryEntry(hostRoot, entry);
  return entry;
}
