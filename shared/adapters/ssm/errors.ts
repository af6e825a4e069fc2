/**
 * What can go wrong talking to SSM, in rejuv's vocabulary. The SDK has already retried throttling and
 * server faults (with backoff, up to its `maxAttempts`) before any of these is thrown; what is left is
 * either worth a later retry (`retryable`) or a problem no retry will change.
 */
import { RejuvError } from '../../domain/errors.js';

/** Which SSM call failed, and for what; carried by every error below. */
export interface SsmCallContext {
  readonly operation: string;
  readonly instanceId?: string;
  readonly documentName?: string;
}

/**
 * SSM does not accept the instance as a command target: not a managed instance of this account and
 * region, terminated, or (SSM documents this too) its agent has not been running for a while.
 */
export class UnknownHostInstanceError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly instanceId: string,
    options?: { cause?: unknown },
  ) {
    super(`instance ${instanceId} is not a managed instance that can receive commands`, options);
  }
}

/** The document does not exist (not deployed, wrong name, account or region): fix the configuration. */
export class UnknownHostDocumentError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly documentName: string,
    options?: { cause?: unknown },
  ) {
    super(`SSM document ${documentName} does not exist`, options);
  }
}

/** SSM refused the call for a reason a retry will not change: parameters, permissions, an unknown command. */
export class HostCommandRejectedError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly operation: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SSM refused ${operation} (${code}): ${detail}`, options);
  }
}

/** SSM throttled, failed on its side, or could not be reached, even after the SDK's own retries. */
export class SsmUnavailableError extends RejuvError {
  readonly retryable = true;
  constructor(
    readonly operation: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SSM did not answer ${operation} (${code}): ${detail}`, options);
  }
}

/** SSM's throttling code is ThrottlingException; the others are the SDK's generic throttling names. */
const THROTTLING_NAMES = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException']);
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface SdkErrorShape {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * Maps an error from an SSM command to rejuv's errors; anything that is not an SSM or network failure (a
 * bug, say) is returned unchanged, so it is never disguised as a service problem.
 */
export function toSsmError(error: unknown, context: SsmCallContext): unknown {
  if (!(error instanceof Error)) return error;
  const e = error as SdkErrorShape & Error;
  const status = e.$metadata?.httpStatusCode;
  const { operation } = context;
  if (e.name === 'InvalidInstanceId' && context.instanceId !== undefined)
    return new UnknownHostInstanceError(context.instanceId, { cause: error });
  if (e.name === 'InvalidDocument' && context.documentName !== undefined)
    return new UnknownHostDocumentError(context.documentName, { cause: error });
  // The SDK marks modelled server errors (InternalServerError) with $fault 'server' whatever the status.
  if (THROTTLING_NAMES.has(e.name) || status === 429 || e.$fault === 'server' || (status ?? 0) >= 500)
    return new SsmUnavailableError(operation, e.name, e.message, { cause: error });
  if (e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_ERROR_CODES.has(e.code)))
    return new SsmUnavailableError(operation, e.code ?? e.name, e.message, { cause: error });
  if (e.$fault === 'client')
    return new HostCommandRejectedError(operation, e.name, e.message, { cause: error });
  return error;
}
