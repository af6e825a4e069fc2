/**
 * One local environment for a fault file, with short timeouts so faults end in seconds, and a fault
 * plan the Lambda runtime around each step handler consults: crash after the handler returned (its
 * writes done, its answer lost), or stall before it starts.
 */
import { Duration } from 'aws-cdk-lib';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startLocalEnvironment,
  type LocalEnvironment,
  type LocalEnvironmentOptions,
} from '../../../local/local-environment.js';

export interface HandlerFault {
  readonly stepId: string;
  /** Only invocations whose input (as JSON) matches every pattern. */
  readonly inputMatches: readonly RegExp[];
  /** Crash after the handler returned, or stall this long before it runs. */
  readonly kind: 'crash-after-return' | { readonly stallMs: number };
  /** How many matching invocations it hits. */
  times: number;
  /** Invocations it hit so far. */
  hits: number;
}

/** Armed handler faults; a test pushes one and the wrapper consumes it. */
export const handlerFaults: HandlerFault[] = [];

/** What Step Functions reports when a function's runtime exits (crash, out of memory). */
export function lambdaCrash(): Error {
  return Object.assign(new Error('RequestId: local Error: Runtime exited with error: signal: killed'), {
    name: 'Lambda.Unknown',
  });
}

export const FAULT_TIMEOUTS = {
  commandTimeouts: {
    Preflight: Duration.seconds(8),
    WarmReboot: Duration.seconds(8),
    Verify: Duration.seconds(8),
    Recover: Duration.seconds(10),
  },
  leaseDuration: Duration.seconds(12),
  awaitHostTimeout: Duration.seconds(5),
} as const;

export async function startFaultEnvironment(
  options: Partial<LocalEnvironmentOptions> = {},
): Promise<LocalEnvironment> {
  return startLocalEnvironment({
    waitMs: 100,
    // Retries wait long enough for a restarted server to come back, as the deployed backoff would.
    retryIntervalMs: 400,
    poolSlotRetryMs: 300,
    ...options,
    coordinator: { defaultMaxHostsInMaintenance: 3, ...FAULT_TIMEOUTS, ...options.coordinator },
    wrapStepHandler: (stepId, handler) => async (input) => {
      const fault = handlerFaults.find(
        (f) =>
          f.stepId === stepId &&
          f.hits < f.times &&
          f.inputMatches.every((p) => p.test(JSON.stringify(input))),
      );
      if (fault !== undefined) fault.hits += 1;
      if (fault !== undefined && typeof fault.kind === 'object') await sleep(fault.kind.stallMs);
      const output = await handler(input);
      if (fault?.kind === 'crash-after-return') throw lambdaCrash();
      return output;
    },
  });
}
