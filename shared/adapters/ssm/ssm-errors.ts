/** SSM's errors, as rejuv's: what a retry may fix is `retryable`, what it cannot is not. */
import { RejuvError } from '../../domain/errors.js';

/** The instance is not a managed instance of this account and region, or its agent never registered. */
export class UnknownHostInstanceError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly instanceId: string,
    options?: { cause?: unknown },
  ) {
    super(`instance ${instanceId} is not a managed instance that can receive commands`, options);
  }
}

/** SSM refused the command itself: unknown document, parameters against the document's patterns. */
export class HostCommandRejectedError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly documentName: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SSM refused ${documentName}: ${code}: ${detail}`, options);
  }
}

const REJECTIONS = new Set([
  'InvalidDocument',
  'InvalidDocumentVersion',
  'InvalidParameters',
  'InvalidOutputFolder',
  'InvalidRole',
  'InvalidNotificationConfig',
  'MaxDocumentSizeExceeded',
  'UnsupportedPlatformType',
  'DuplicateInstanceId',
  'ValidationException',
]);

/** Maps an SDK error of a command call; errors it does not know pass through (transient ones are retried upstream). */
export function toHostCommandError(error: unknown, documentName: string, instanceId: string): unknown {
  if (!(error instanceof Error)) return error;
  if (error.name === 'InvalidInstanceId') return new UnknownHostInstanceError(instanceId, { cause: error });
  if (REJECTIONS.has(error.name))
    return new HostCommandRejectedError(documentName, error.name, error.message, { cause: error });
  return error;
}
