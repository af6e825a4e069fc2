/**
 * A kernel host (kernel-host.ts) as a managed node of the local SSM: what its SSM agent would do there.
 * Each document step's script, written by the runner into the shared lab directory (the same path
 * inside), runs in the kernel host through the QEMU guest agent; on exit 194 the node reboots: here the
 * agent's own scheduled kexec does it, and the reboot is over when a kernel that has not announced
 * itself before reaches init and its guest agent answers. A node that never comes back keeps the
 * caller waiting until it gives up (aborts), as the service keeps an invocation InProgress.
 */
import type { ScriptExit, ScriptLauncher } from '../runner/run-document.js';
import { GuestAgentError } from './guest-agent-client.js';
import type { KernelHost } from './kernel-host.js';

/** How often the lab looks at the console for a new kernel. */
const CONSOLE_POLL_MS = 100;
/** A new kernel's guest agent answers a few seconds after init; much longer under load. */
const AGENT_AFTER_INIT_TIMEOUT_MS = 180_000;

export interface KernelHostNode {
  readonly launcher: ScriptLauncher;
  reboot(signal: AbortSignal | undefined): Promise<void>;
}

export interface KernelHostNodeOptions {
  /** Fault seam: runs when the node starts to reboot (for example, to make it never come back). */
  readonly beforeReboot?: () => Promise<void>;
  /**
   * Fault seam: runs after the new kernel is up and before SSM runs the step again (for example, to
   * damage the saved device state, which nothing else in the lab can do at that instant).
   */
  readonly afterReboot?: () => Promise<void>;
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The boot ids whose /init announced itself on the console so far (the console keeps every boot's). */
export async function announcedBoots(host: KernelHost): Promise<Set<string>> {
  return new Set([...(await host.console()).matchAll(/^KH INIT (\S+)$/gm)].map((m) => m[1] ?? ''));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Resolves once a kernel not in `earlier` reached init and its guest agent answers; or when `signal`
 * aborts; or throws after `timeoutMs` when one is given.
 */
export async function waitForNewKernel(
  host: KernelHost,
  earlier: ReadonlySet<string>,
  options: { readonly signal?: AbortSignal | undefined; readonly timeoutMs?: number } = {},
): Promise<void> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  while (![...(await announcedBoots(host))].some((id) => !earlier.has(id))) {
    if (options.signal?.aborted === true) return;
    if (Date.now() > deadline)
      throw new Error(`kernel host ${host.id}: no new kernel within ${options.timeoutMs} ms`);
    await sleep(CONSOLE_POLL_MS, options.signal);
  }
  await host.waitForAgent(AGENT_AFTER_INIT_TIMEOUT_MS);
}

export function kernelHostNode(host: KernelHost, options: KernelHostNodeOptions = {}): KernelHostNode {
  /** The kernels seen when the last step started: the reboot it asks for must bring another. */
  let bootsAtLastLaunch = new Set<string>();

  const launcher: ScriptLauncher = async (launch) => {
    bootsAtLastLaunch = await announcedBoots(host);
    // The kernel host has its own PATH (its tools are unpacked there); the document's variables go along.
    const assignments = Object.entries(launch.env)
      .filter(([name]) => name !== 'PATH' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      .map(([name, value]) => `${name}=${quote(value)}`);
    const command = `cd ${quote(launch.workingDirectory)} && exec env ${assignments.join(' ')} sh -c ${quote(launch.scriptPath)}`;
    const stop = async (as: 'TimedOut' | 'Cancelled'): Promise<ScriptExit> => {
      // Best effort: the script's process tree inside, found by its path on the command line.
      await host
        .exec(`pkill -KILL -f ${quote(launch.scriptPath)}`, { timeoutMs: 10_000 })
        .catch(() => undefined);
      return { code: null, stoppedAs: as, stdout: '', stderr: '' };
    };
    if (launch.signal?.aborted === true) return stop('Cancelled');
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
      launch.signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const ran = await Promise.race([
        host.exec(command, { timeoutMs: launch.timeoutSeconds * 1000 }),
        aborted,
      ]);
      if (ran === 'aborted') return await stop('Cancelled');
      return { code: ran.exitCode, stdout: ran.stdout, stderr: ran.stderr };
    } catch (error) {
      if (error instanceof GuestAgentError && /did not finish/.test(error.message)) return stop('TimedOut');
      // The node went away under the script (it died, or rebooted without being asked to).
      return {
        code: null,
        error: error instanceof Error ? error : new Error(String(error)),
        stdout: '',
        stderr: '',
      };
    } finally {
      if (onAbort !== undefined) launch.signal?.removeEventListener('abort', onAbort);
    }
  };

  return {
    launcher,
    async reboot(signal) {
      await options.beforeReboot?.();
      await waitForNewKernel(host, bootsAtLastLaunch, { signal });
      if (signal?.aborted !== true) await options.afterReboot?.();
    },
  };
}
