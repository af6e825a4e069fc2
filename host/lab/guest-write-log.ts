/**
 * Reading a field Linux guest's write log from outside (host/guest/linux/init, `rejuv.log=`): the guest
 * writes 512-byte records `SEQ <n> <boot id>` at sector n, n = 1, 2, ..., each flushed to its qcow2 disk
 * before the next. The image is read through `qemu-img` while the VM runs; what the guest flushed is in it.
 */
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';
import { linuxGuestWriteLog } from './linux-vm.js';
import { readQcow2Contents } from './qcow2.js';

const SECTOR = 512;

export interface GuestWriteLog {
  /** The boot that wrote record 1 (a reboot starts the log over). */
  readonly bootId: string | undefined;
  /** Records 1..records are all there, in place, from that boot. */
  readonly records: number;
  /**
   * Records of that boot found past the first missing or foreign one: a write the disk lost, or one
   * that landed in the wrong place. Empty for an intact log.
   */
  readonly misplaced: readonly string[];
}

/** Parses a log image's contents; exported for its unit test. */
export function parseGuestWriteLog(contents: Buffer): GuestWriteLog {
  const recordAt = (sector: number) => {
    const text = contents.subarray(sector * SECTOR, (sector + 1) * SECTOR).toString('latin1');
    const match = /^SEQ ([0-9]+) ([0-9a-f-]+)\n\0*$/.exec(text);
    return match === null ? undefined : { n: Number(match[1]), bootId: match[2] };
  };
  const sectors = Math.floor(contents.length / SECTOR);
  const bootId = recordAt(1)?.bootId;
  let records = 0;
  while (records + 1 < sectors) {
    const record = recordAt(records + 1);
    if (record === undefined || record.bootId !== bootId || record.n !== records + 1) break;
    records += 1;
  }
  const misplaced: string[] = [];
  for (let sector = records + 2; sector < sectors && bootId !== undefined; sector++) {
    const record = recordAt(sector);
    if (record?.bootId === bootId) misplaced.push(`record ${record.n} at sector ${sector}`);
  }
  return { bootId, records, misplaced };
}

/** The write log of a field Linux VM, as its disk holds it now. */
export async function readGuestWriteLog(entry: VmInventoryEntry): Promise<GuestWriteLog> {
  const image = linuxGuestWriteLog(entry);
  if (image === undefined) throw new Error(`VM ${entry.name} has no write log (not a field Linux VM)`);
  return parseGuestWriteLog(await readQcow2Contents(image));
}
