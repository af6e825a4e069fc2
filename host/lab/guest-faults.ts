/**
 * Guest failures a test causes from outside, through the guest's RAM file (memory-backend-file,
 * share=on): the QEMU process stays up and answers QMP as `running`, only the guest goes quiet. That is
 * the case a heartbeat check exists for, and one no QMP command or process signal can produce.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';

const PAGE = 4096;
/** The test guest marks pages from 1 MiB up (host/guest/heartbeat.asm). */
const FIRST_MARKED_PAGE = 0x100000;
/** Where the BIOS loads the test guest's boot sector, and so where its code runs from. */
const BOOT_SECTOR = 0x7c00;
const BOOT_SECTOR_CODE_BYTES = 510;

/** The file behind the VM's guest RAM, from its `-object memory-backend-file,...,mem-path=...`. */
export function guestRamFile(entry: VmInventoryEntry): string {
  for (const [index, arg] of entry.argv.entries()) {
    if (arg !== '-object') continue;
    const option = entry.argv[index + 1] ?? '';
    const memPath = /(?:^|,)mem-path=([^,]+)/.exec(option)?.[1];
    if (option.startsWith('memory-backend-file,') && memPath !== undefined) return memPath;
  }
  throw new Error(`VM ${entry.name} keeps its RAM in no memory-backend-file`);
}

function withRamFile(entry: VmInventoryEntry, write: (fd: number, bytes: number) => void): void {
  const fd = openSync(guestRamFile(entry), 'r+');
  try {
    write(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Clears every page mark of a running test guest: at its next tick it finds one gone, prints
 * `BAD <address>` and halts with interrupts off. Its QEMU process keeps running; its heartbeat stops.
 */
export function crashGuest(entry: VmInventoryEntry): void {
  const zero = Buffer.alloc(4);
  withRamFile(entry, (fd, bytes) => {
    for (let page = FIRST_MARKED_PAGE; page < bytes; page += PAGE) writeSync(fd, zero, 0, 4, page);
  });
}

/**
 * Overwrites the test guest's code with `cli; hlt`. A QEMU process that is running the guest keeps
 * executing the copy it already translated (TCG does not see writes made outside it), so this is for
 * a moment when no process runs the VM, e.g. during a warm reboot between quit and start: the guest
 * restored afterwards halts at once, silent, while its process runs on.
 */
export function haltGuestWhenNextStarted(entry: VmInventoryEntry): void {
  const cliHlt = Buffer.alloc(BOOT_SECTOR_CODE_BYTES, Buffer.from([0xfa, 0xf4]));
  withRamFile(entry, (fd) => writeSync(fd, cliHlt, 0, cliHlt.length, BOOT_SECTOR));
}
