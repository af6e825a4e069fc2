/** Finding a VM's QEMU process from outside: by its command line, as /proc shows it. */
import { readdir, readFile } from 'node:fs/promises';

async function commandLine(pid: number): Promise<string[] | undefined> {
  try {
    const [raw, stat] = await Promise.all([
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    // A zombie has exited; only its parent has not collected it yet.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X' || raw === '') return undefined;
    return raw.split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}

/** Live processes whose argv satisfies `matches`. */
export async function findProcesses(matches: (argv: readonly string[]) => boolean): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^[0-9]+$/.test(entry)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    const argv = await commandLine(pid);
    if (argv !== undefined && matches(argv)) found.push(pid);
  }
  return found;
}

/** Live processes whose environment has `name` set to exactly `value`. */
export async function findProcessesWithEnv(name: string, value: string): Promise<number[]> {
  const wanted = `${name}=${value}`;
  const pids = (await readdir('/proc')).filter((entry) => /^[0-9]+$/.test(entry)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(wanted) && (await commandLine(pid)) !== undefined) found.push(pid);
  }
  return found;
}

/** What a tap opened by name takes that one passed in as `fd=` must not have (the agent drops them). */
const TAP_OPEN_OPTIONS = new Set(['ifname', 'script', 'downscript', 'vnet_hdr']);

/**
 * A `-netdev tap,...` value as the agent passes its tap to a handover successor: the options that open
 * it by name dropped, `fd=<fd>` appended (host/README.md, "The successor's argv").
 */
export function tapWithFd(own: string, fd: string): string {
  // Split at single commas only: ",," is a literal comma inside a part.
  const parts = own.split(/(?<!,),(?!,)/);
  const kept = parts.filter((part) => !TAP_OPEN_OPTIONS.has(part.split('=')[0] ?? ''));
  return [...kept, `fd=${fd}`].join(',');
}

/**
 * Whether one argument of a running QEMU is the VM's own, or the agent's handover rewrite of it: a
 * `-qmp unix:<path>...` value whose socket moved to `<path>.h<pid>` (the successor's own QMP socket),
 * or a `-netdev tap,...` passed in as a descriptor.
 */
function sameArgument(running: string, own: string, previous: string | undefined): boolean {
  if (running === own) return true;
  const passedFd = /,fd=([0-9]+)$/.exec(running)?.[1];
  if (previous === '-netdev' && own.startsWith('tap,') && passedFd !== undefined)
    return running === tapWithFd(own, passedFd);
  const qmp = /^unix:([^,]+)(.*)$/.exec(own);
  if (previous !== '-qmp' || qmp === null) return false;
  const [, path = '', rest = ''] = qmp;
  return (
    running.startsWith(`unix:${path}`) &&
    running.endsWith(rest) &&
    /^\.h[0-9]{1,10}$/.test(running.slice(`unix:${path}`.length, running.length - rest.length))
  );
}

/**
 * Processes running this VM argv, with or without a trailing `-incoming <uri>`, including a handover
 * successor (whose QMP socket path and taps the agent rewrote; see host/README.md).
 */
export function findVmProcesses(vmArgv: readonly string[]): Promise<number[]> {
  return findProcesses(
    (argv) =>
      vmArgv.every((arg, index) => sameArgument(argv[index] ?? '', arg, vmArgv[index - 1])) &&
      (argv.length === vmArgv.length ||
        (argv.length === vmArgv.length + 2 && argv[vmArgv.length] === '-incoming')),
  );
}

/** The one QEMU process of a VM; throws when there is none or more than one. */
export async function vmPid(vmArgv: readonly string[]): Promise<number> {
  const pids = await findVmProcesses(vmArgv);
  if (pids.length !== 1 || pids[0] === undefined)
    throw new Error(`expected one QEMU process for ${vmArgv.join(' ')}, found ${pids.length}`);
  return pids[0];
}

export async function isAlive(pid: number): Promise<boolean> {
  return (await commandLine(pid)) !== undefined;
}

/** Resolves once the process is gone; false when it is still there after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
