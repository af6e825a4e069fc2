/**
 * What can go wrong talking to SSM, in rejuv's vocabulary. The SDK has already retried throttling and
 * server faults (with backoff, up to its `maxAttempts`) before any of these is thrown; what is left is
 * either worth a later retry (`retryable`) or a problem no retry will change.
 */
import { RejuvError } from '../../domain/errors.js';
import { classifySdkError } from '../aws/sdk-error-class.js';

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
  override readonly name = 'UnknownHostInstanceError';
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
  override readonly name = 'UnknownHostDocumentError';
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
  override readonly name = 'HostCommandRejectedError';
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
  override readonly name = 'SsmUnavailableError';
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

/**
 * Maps an error from an SSM command to rejuv's errors; anything that is not an SSM or network failure (a
 * bug, say) is returned unchanged, so it is never disguised as a service problem.
 */
export function toSsmError(error: unknown, context: SsmCallContext): unknown {
  const { operation, instanceId, documentName } = context;
  if (!(error instanceof Error)) return error;
  if (error.name === 'InvalidInstanceId' && instanceId !== undefined)
    return new UnknownHostInstanceError(instanceId, { cause: error });
  if (error.name === 'InvalidDocument' && documentName !== undefined)
    return new UnknownHostDocumentError(documentName, { cause: error });
  const found = classifySdkError(error);
  if (found.kind === 'unavailable')
    return new SsmUnavailableError(operation, found.code, found.detail, { cause: error });
  if (found.kind === 'refused')
    return new HostCommandRejectedError(operation, found.code, found.detail, { cause: error });
  return error;
}
