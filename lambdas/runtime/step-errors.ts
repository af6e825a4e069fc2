/**
 * What reaches the state machine when a step throws. rejuv's own errors pass unchanged (their names
 * drive Retry and Catch); transient AWS and network faults become one retryable `TransientError`.
 */
import { RejuvError } from '../../shared/domain/errors.js';

export class TransientError extends RejuvError {
  override readonly name = 'TransientError';
  readonly retryable = true;
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof RejuvError) return error.retryable && error.name === 'TransientError';
  const code = (error as { code?: unknown }).code;
  const retryable = (error as { $retryable?: unknown }).$retryable;
  return (
    TRANSIENT_NAMES.has(error.name) ||
    (typeof code === 'string' && TRANSIENT_CODES.has(code)) ||
    retryable !== undefined
  );
}

export function toStepError(error: unknown): unknown {
  if (error instanceof RejuvError) return error;
  if (isTransient(error)) {
    const e = error as Error;
    return new TransientError(`${e.name}: ${e.message}`, { cause: error });
  }
  return error;
}
