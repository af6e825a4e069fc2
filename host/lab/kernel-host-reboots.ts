/**
 * What a kernel-level reload is measured against on a lab kernel host (kernel-host.ts), with the
 * heartbeat guest running nested on it (kernel-host-cycle.ts):
 *
 * normal reboot: the guest's QEMU quits (the guest goes down with its host), the host is reset and
 *   boots again from firmware (a new QEMU), the guest is booted again from its disk: its counter
 *   starts over.
 * saved reboot:  the classic way to keep a guest across a host reboot: its whole state, RAM included
 *   (no x-ignore-shared), is saved to a file on disk (the lab directory, this machine's disk), the host
 *   reboots as above, and the guest is restored from the file into a new QEMU: its counter goes on.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quote, startNested, VM_STATE_SCRIPT, type NestedVm } from './kernel-host-cycle.js';
import type { KernelHost } from './kernel-host.js';

/** Whole guest RAM through 9p from a doubly emulated QEMU: minutes for a few hundred MiB. */
const WHOLE_STATE_TIMEOUT_MS = 900_000;

export interface HostRebootResult {
  /** The new QEMU's start to the kernel host's guest agent answering (firmware and kernel boot). */
  readonly hostBootMs: number;
  /** Bytes of the state file (saved reboot only). */
  readonly stateBytes?: number;
}

/** Quits the guest, reboots the host cold and starts the guest again from its disk (not waited for). */
export async function normalRebootWithGuest(host: KernelHost, vm: NestedVm): Promise<HostRebootResult> {
  await host.sh(`python3 ${quote(VM_STATE_SCRIPT)} quit ${quote(vm.qmpSocket)}`);
  // The guest went down wherever it was, often in the middle of a heartbeat line: end that line, or
  // the next boot's BOOT would be glued to it and never read as a boot.
  if (!(await readFile(vm.heartbeatLog, 'utf8')).endsWith('\n')) await appendFile(vm.heartbeatLog, '\n');
  const hostBootMs = await host.reboot();
  await startNested(host, vm, []);
  return { hostBootMs };
}

/** Saves the guest with its RAM to a file, reboots the host cold, restores the guest from the file. */
export async function savedRebootWithGuest(host: KernelHost, vm: NestedVm): Promise<HostRebootResult> {
  const stateFile = join(host.root, `${vm.name}.saved-state`);
  const script = `python3 ${quote(VM_STATE_SCRIPT)}`;
  await host.sh(`${script} save-all ${quote(vm.qmpSocket)} ${quote(stateFile)}`, {
    timeoutMs: WHOLE_STATE_TIMEOUT_MS,
  });
  const stateBytes = Number((await host.sh(`stat -c %s ${quote(stateFile)}`)).trim());
  const hostBootMs = await host.reboot();
  await startNested(host, vm, ['-incoming', 'defer']);
  await host.sh(`${script} restore-all ${quote(vm.qmpSocket)} ${quote(stateFile)}`, {
    timeoutMs: WHOLE_STATE_TIMEOUT_MS,
  });
  return { hostBootMs, stateBytes };
}
