/**
 * SendCommand's rate controls as SSM states them (user guide, "Using targets and rate controls to send
 * commands to a fleet"; the patterns are the API model's):
 *
 * - MaxConcurrency, a number or a percentage of the targets (default 50): invocations beyond it wait.
 *   SSM delivers to one instance first and waits for it before sending to two more, "exponentially"
 *   more until MaxConcurrency; here the window is 2^(invocations finished), capped by MaxConcurrency.
 * - MaxErrors, a number or a percentage (default 0): once errors exceed it (3 stops at the fourth), no
 *   further invocation starts; those already running finish. Failed and ExecutionTimedOut count;
 *   DeliveryTimedOut, AccessDenied and Undeliverable do not.
 *
 * A percentage is of the target count; SSM does not document its rounding: concurrency is rounded up
 * (at least 1, so a command always makes progress), errors down (the stricter reading).
 */
export const MAX_CONCURRENCY_PATTERN = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
export const MAX_ERRORS_PATTERN = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;

export const DEFAULT_MAX_CONCURRENCY = '50';
export const DEFAULT_MAX_ERRORS = '0';

export interface RateControls {
  /** As the request gave them (echoed by ListCommands). */
  readonly maxConcurrency: string;
  readonly maxErrors: string;
  /** Resolved against the target count. */
  readonly concurrencyLimit: number;
  readonly errorLimit: number;
}

export function rateControls(
  maxConcurrency: string | undefined,
  maxErrors: string | undefined,
  targetCount: number,
): RateControls {
  const concurrency = maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  const errors = maxErrors ?? DEFAULT_MAX_ERRORS;
  return {
    maxConcurrency: concurrency,
    maxErrors: errors,
    concurrencyLimit: Math.max(1, resolve(concurrency, targetCount, Math.ceil)),
    errorLimit: resolve(errors, targetCount, Math.floor),
  };
}

/** How many invocations may be in flight once `finished` of them have ended: the ramp, then the limit. */
export function concurrencyWindow(controls: RateControls, finished: number): number {
  return Math.min(controls.concurrencyLimit, 2 ** Math.min(finished, 30));
}

/** SSM stops starting invocations when the errors exceed MaxErrors, not when they reach it. */
export function errorsExceeded(controls: RateControls, errors: number): boolean {
  return errors > controls.errorLimit;
}

function resolve(value: string, targetCount: number, round: (n: number) => number): number {
  if (value.endsWith('%')) return round((Number(value.slice(0, -1)) * targetCount) / 100);
  return Number(value);
}
