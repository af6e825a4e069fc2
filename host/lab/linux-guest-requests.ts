/**
 * Asking the lab's Linux guest something from outside (the protocol is in host/guest/linux/init): a
 * request line goes into the VM's request FIFO, the reply comes back on its heartbeat log.
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { VmInventoryEntry } from '../inventory/vm-inventory.js';
import { linuxGuestControlPath } from './linux-vm.js';

const REPLY_TIMEOUT_MS = 60_000;
/**
 * A request unanswered this long is sent again under the same id (the first reply counts). Seen once in
 * a bench run: a request sent right after a classic save/restore was never answered (cause not found;
 * the bench keeps no logs of it).
 */
const RESEND_AFTER_MS = 15_000;
let nextId = 0;

/** Writes one request line into the VM's request FIFO. */
export type RequestSender = (control: string, line: string) => Promise<void>;

/** The FIFO on this machine. */
const sendHere: RequestSender = async (control, line) => {
  // Non-blocking: with no QEMU holding the FIFO the open fails at once (ENXIO) instead of hanging.
  const fifo = await open(control, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await fifo.write(line);
  } finally {
    await fifo.close();
  }
};

export interface AskOptions {
  /** @default 60 s */
  readonly timeoutMs?: number;
  /**
   * How the request reaches the FIFO: a FIFO is a pipe of the kernel its QEMU runs on, so for a VM
   * nested in a lab kernel host the line must be written there.
   * @default written on this machine
   */
  readonly send?: RequestSender;
  /**
   * Resend an unanswered request after this long; longer for a guest slowed by nesting, whose `read`
   * would otherwise run twice at once.
   * @default 15 s
   */
  readonly resendAfterMs?: number;
}

/** Sends `verb` and resolves with the words of the guest's reply after `R <id> <verb>`. */
export async function askLinuxGuest(
  entry: VmInventoryEntry,
  verb: 'uptime' | 'mem' | 'net' | 'read' | 'poweroff',
  options: AskOptions = {},
): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? REPLY_TIMEOUT_MS;
  const control = linuxGuestControlPath(entry);
  if (control === undefined) throw new Error(`VM ${entry.name} is not a Linux lab guest (no request port)`);
  const id = `${process.pid}-${++nextId}`;
  const send = () => (options.send ?? sendHere)(control, `${id} ${verb}\n`);
  await send();
  const prefix = `R ${id} ${verb}`;
  const deadline = Date.now() + timeoutMs;
  const resendAfterMs = options.resendAfterMs ?? RESEND_AFTER_MS;
  let resendAt = Date.now() + resendAfterMs;
  for (;;) {
    const log = await readFile(entry.heartbeat.log, 'utf8').catch(() => '');
    const line = log.split('\n').find((l) => l === prefix || l.startsWith(`${prefix} `));
    // A line is only complete once its newline is there: never read a reply being written.
    if (line !== undefined && log.includes(`${line}\n`))
      return line.slice(prefix.length).trim().split(' ').filter(Boolean);
    if (Date.now() > deadline)
      throw new Error(`guest of ${entry.name} did not answer "${verb}" within ${timeoutMs} ms`);
    if (Date.now() > resendAt && verb !== 'poweroff') {
      await send();
      resendAt = Date.now() + resendAfterMs;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface GuestUptime {
  readonly seconds: number;
  readonly bootId: string;
}

export async function guestUptime(entry: VmInventoryEntry, options: AskOptions = {}): Promise<GuestUptime> {
  const [seconds, bootId] = await askLinuxGuest(entry, 'uptime', options);
  if (seconds === undefined || bootId === undefined) throw new Error(`bad uptime reply from ${entry.name}`);
  return { seconds: Number(seconds), bootId };
}

/** Milliseconds the guest took, by its own monotonic clock, to read every file of its data disk. */
export async function guestReadMs(
  entry: VmInventoryEntry,
  options: AskOptions = {},
): Promise<{ ms: number; bytes: number }> {
  const [ms, bytes] = await askLinuxGuest(entry, 'read', options);
  if (ms === undefined || bytes === undefined) throw new Error(`bad read reply from ${entry.name}`);
  return { ms: Number(ms), bytes: Number(bytes) };
}
