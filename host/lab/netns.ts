/**
 * Network namespaces for field-shaped lab hosts (host/lab/field-host.ts): each such host has its own,
 * named after the host's directory, holding the taps its VMs' virtio-net sit on, with the host side's
 * addresses. Every packet a test or bench sends goes to an address inside it. Processes that must see
 * the taps (QEMU, the host documents, ping) run in it through `ip netns exec`, which execs its command
 * in the same process (so a pid or a process group is still the command's).
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The namespace of a lab host, from its directory name alone (teardown needs nothing else). */
export function netnsName(hostRoot: string): string {
  return `rejuv-${basename(hostRoot)}`;
}

/** The argv prefix that runs a command inside the namespace. */
export function netnsExec(netns: string): string[] {
  return ['ip', 'netns', 'exec', netns];
}

async function ip(args: readonly string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (error) {
    throw new Error(`ip ${args.join(' ')} failed (iproute2: scripts/install-system-deps.sh)`, {
      cause: error,
    });
  }
}

export async function createNetns(netns: string): Promise<void> {
  await ip(['netns', 'add', netns]);
  await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
}

/**
 * A persistent tap inside the namespace, up, with the host side's address: the guest behind it takes
 * another address of the same subnet, and the namespace reaches it through the tap alone.
 */
export async function addTap(netns: string, tap: string, hostCidr: string): Promise<void> {
  await ip(['-n', netns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  await ip(['-n', netns, 'addr', 'add', hostCidr, 'dev', tap]);
  await ip(['-n', netns, 'link', 'set', tap, 'up']);
}

/** Removes a tap (e.g. to make it vanish under a running VM); a tap already gone is fine. */
export async function deleteTap(netns: string, tap: string): Promise<void> {
  await run('ip', ['-n', netns, 'link', 'del', tap]).catch(() => undefined);
}

async function netnsExists(netns: string): Promise<boolean> {
  return access(`/run/netns/${netns}`).then(
    () => true,
    () => false,
  );
}

/** The processes running inside the namespace (QEMU, documents, probes). */
export async function netnsPids(netns: string): Promise<number[]> {
  if (!(await netnsExists(netns))) return [];
  const { stdout } = await run('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .filter((line) => /^[0-9]+$/.test(line))
    .map(Number);
}

/** Deletes the namespace and, with it, its taps; run after every process in it has ended. */
export async function deleteNetns(netns: string): Promise<void> {
  if (!(await netnsExists(netns))) return;
  const { stdout } = await run('ip', ['-n', netns, '-o', 'link', 'show', 'type', 'tun']).catch(() => ({
    stdout: '',
  }));
  for (const tap of stdout.matchAll(/^[0-9]+: ([^:@]+)/gm))
    if (tap[1] !== undefined) await deleteTap(netns, tap[1]);
  await ip(['netns', 'del', netns]);
}
