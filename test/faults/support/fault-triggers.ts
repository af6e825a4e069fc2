/** Starting executions and acting at a host step, as every fault file does. */
import type { FleetHost } from '../../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../../local/local-environment.js';

/** An operator request for `host` through the real trigger; the execution's name. */
export async function operatorStart(
  env: LocalEnvironment,
  host: FleetHost,
  reason: string,
  requestId = 'fault',
): Promise<string> {
  const answer = (await env.startAsOperator({
    hostId: host.hostId,
    reason,
    requestId,
  })) as { executionName: string };
  return answer.executionName;
}

/** Runs `body` once, when the host's agent finishes `document`: where a fault is injected between steps. */
export function whenFinished(
  env: LocalEnvironment,
  host: FleetHost,
  document: string,
  body: () => void | Promise<void>,
): void {
  let done = false;
  env.ssm.onCommandFinished((event) => {
    if (done || event.instanceId !== host.instanceId || event.documentName !== env.documentNames[document])
      return;
    done = true;
    void body();
  });
}

/**
 * Sends `signal` to `pid` if the process still exists: a QEMU frozen by a test may have been ended and
 * replaced since (Recover, or a handover's successor taking over), and then there is nothing to thaw.
 */
export function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
