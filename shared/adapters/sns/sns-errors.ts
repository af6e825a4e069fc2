/**
 * What can go wrong publishing a notification, in rejuv's vocabulary. The SDK has already retried
 * throttling and server faults (with backoff, up to its `maxAttempts`) before any of these is thrown; what
 * is left is either worth a later retry by the state machine or a configuration problem for a person.
 */
import { RejuvError } from '../../domain/errors.js';
import { classifySdkError } from '../aws/sdk-error-class.js';

/** The topic does not exist (deleted, wrong account or region): no retry will help. */
export class NotificationTopicNotFoundError extends RejuvError {
  override readonly name = 'NotificationTopicNotFoundError';
  readonly retryable = false;
  constructor(
    readonly topicArn: string,
    options?: { cause?: unknown },
  ) {
    super(`notification topic ${topicArn} does not exist`, options);
  }
}

/** SNS refused the publish for a reason a retry will not change: permissions, KMS, a parameter. */
export class NotificationRejectedError extends RejuvError {
  override readonly name = 'NotificationRejectedError';
  readonly retryable = false;
  constructor(
    readonly topicArn: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SNS refused to publish to ${topicArn} (${code}): ${detail}`, options);
  }
}

/** SNS throttled, failed on its side, or could not be reached, even after the SDK's own retries. */
export class NotificationUnavailableError extends RejuvError {
  override readonly name = 'NotificationUnavailableError';
  readonly retryable = true;
  constructor(
    readonly topicArn: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SNS did not accept a publish to ${topicArn} (${code}): ${detail}`, options);
  }
}

/**
 * Maps an error from PublishCommand to rejuv's errors; anything that is not an SNS or network failure (a
 * bug, say) is returned unchanged, so it is never disguised as a service problem.
 */
export function toNotificationError(error: unknown, topicArn: string): unknown {
  if (!(error instanceof Error)) return error;
  if (error.name === 'NotFoundException')
    return new NotificationTopicNotFoundError(topicArn, { cause: error });
  const found = classifySdkError(error);
  if (found.kind === 'unavailable')
    return new NotificationUnavailableError(topicArn, found.code, found.detail, { cause: error });
  if (found.kind === 'refused')
    return new NotificationRejectedError(topicArn, found.code, found.detail, { cause: error });
  return error;
}
