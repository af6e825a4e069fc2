/**
 * How an AWS SDK error stands once the SDK's own retries (throttling and server faults, with backoff,
 * up to its `maxAttempts`) are spent: worth a later retry, or refused for a reason no retry will change.
 * Each adapter first names its service's errors that mean something to rejuv (an unknown document, a
 * missing topic), then maps the rest by this class to its own retryable and refused errors; a step
 * handler turns an unmapped `unavailable` into TransientError (lambdas/runtime/step-errors.ts), and the
 * CLI reports it as the coordinator unavailable. The one list of AWS's transient fault names.
 */

export type SdkErrorClass =
  /** Throttled, failed on the service's side, or not reached: a later retry may go through. */
  | { readonly kind: 'unavailable'; readonly code: string; readonly detail: string }
  /** The service refused the call: parameters, permissions, quotas. */
  | { readonly kind: 'refused'; readonly code: string; readonly detail: string }
  /** Not a service or network failure (a bug, say): never disguised as one. */
  | { readonly kind: 'other' };

/**
 * Throttling and transient faults as the services rejuv calls name them (SSM, SNS and KMS behind it,
 * ELBv2, DynamoDB, Step Functions), and the SDK's generic names, for the errors that carry no status.
 */
const TRANSIENT_FAULT_NAMES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KMSThrottlingException',
  'ProvisionedThroughputExceededException',
  'TransactionConflictException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

interface SdkErrorShape {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
}

export function classifySdkError(error: unknown): SdkErrorClass {
  if (!(error instanceof Error)) return { kind: 'other' };
  const e = error as SdkErrorShape & Error;
  const status = e.$metadata?.httpStatusCode ?? 0;
  // The SDK marks modelled server errors (InternalServerError) with $fault 'server' whatever the status.
  if (TRANSIENT_FAULT_NAMES.has(e.name) || status === 429 || e.$fault === 'server' || status >= 500)
    return { kind: 'unavailable', code: e.name, detail: e.message };
  if (e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_ERROR_CODES.has(e.code)))
    return { kind: 'unavailable', code: e.code ?? e.name, detail: e.message };
  if (e.$fault === 'client') return { kind: 'refused', code: e.name, detail: e.message };
  return { kind: 'other' };
}
