/**
 * What can go wrong with CloudWatch metrics, in rejuv's vocabulary. The SDK has already retried
 * throttling and server faults before any of these is thrown.
 */
import { RejuvError } from '../../domain/errors.js';
import { classifySdkError } from '../aws/sdk-error-class.js';

/** CloudWatch refused the call for a reason a retry will not change: permissions, a parameter. */
export class AgingMetricsRejectedError extends RejuvError {
  override readonly name = 'AgingMetricsRejectedError';
  readonly retryable = false;
  constructor(
    readonly operation: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`CloudWatch refused ${operation} (${code}): ${detail}`, options);
  }
}

/** CloudWatch throttled, failed on its side, or could not be reached, even after the SDK's retries. */
export class AgingMetricsUnavailableError extends RejuvError {
  override readonly name = 'AgingMetricsUnavailableError';
  readonly retryable = true;
  constructor(
    readonly operation: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`CloudWatch did not answer ${operation} (${code}): ${detail}`, options);
  }
}

/** Maps an SDK error to rejuv's; anything else (a bug) is returned unchanged, never disguised. */
export function toAgingMetricsError(error: unknown, operation: string): unknown {
  const found = classifySdkError(error);
  if (found.kind === 'unavailable')
    return new AgingMetricsUnavailableError(operation, found.code, found.detail, { cause: error });
  if (found.kind === 'refused')
    return new AgingMetricsRejectedError(operation, found.code, found.detail, { cause: error });
  return error;
}
