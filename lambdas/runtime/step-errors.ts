/**
 * What reaches the state machine when a step throws. rejuv's own errors pass unchanged (their names
 * drive Retry and Catch); transient AWS and network faults become one retryable `TransientError`.
 */
import { classifySdkError } from '../../shared/adapters/aws/sdk-error-class.js';
import { RejuvError } from '../../shared/domain/errors.js';

export class TransientError extends RejuvError {
  override readonly name = 'TransientError';
  readonly retryable = true;
}

/**
 * An AWS or network fault worth a later retry, as shared/adapters/aws/sdk-error-class.ts classifies
 * them, or one the SDK marked retryable itself.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof RejuvError) return error instanceof TransientError;
  const retryable = (error as { $retryable?: unknown }).$retryable;
  return classifySdkError(error).kind === 'unavailable' || retryable !== undefined;
}

export function toStepError(error: unknown): unknown {
  if (error instanceof RejuvError) return error;
  if (isTransient(error)) {
    const e = error as Error;
    return new TransientError(`${e.name}: ${e.message}`, { cause: error });
  }
  return error;
}
