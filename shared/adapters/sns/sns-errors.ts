/**
 * What can go wrong publishing a notification, in rejuv's vocabulary. The SDK has already retried
 * throttling and server faults (with backoff, up to its `maxAttempts`) before any of these is thrown; what
 * is left is either worth a later retry by the state machine or a configuration problem for a person.
 */
import { RejuvError } from '../../domain/errors.js';

/** The topic does not exist (deleted, wrong account or region): no retry will help. */
export class NotificationTopicNotFoundError extends RejuvError {
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

/** SNS's throttling codes (and KMS's, when the topic is encrypted), as the SDK names the exceptions. */
const THROTTLING_NAMES = new Set([
  'ThrottledException',
  'KMSThrottlingException',
  'Throttling',
  'ThrottlingException',
]);
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * Maps an error from PublishCommand to rejuv's errors; anything that is not an SNS or network failure (a
 * bug, say) is returned unchanged, so it is never disguised as a service problem.
 */
export function toNotificationError(error: unknown, topicArn: string): unknown {
  if (!(error instanceof Error)) return error;
  const e = error as SdkErrorShape & Error;
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NotFoundException') return new NotificationTopicNotFoundError(topicArn, { cause: error });
  if (THROTTLING_NAMES.has(e.name) || status === 429 || e.$fault === 'server' || (status ?? 0) >= 500) {
    return new NotificationUnavailableError(topicArn, e.name, e.message, { cause: error });
  }
  if (e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_ERROR_CODES.has(e.code))) {
    return new NotificationUnavailableError(topicArn, e.code ?? e.name, e.message, { cause: error });
  }
  if (e.$fault === 'client')
    return new NotificationRejectedError(topicArn, e.name, e.message, { cause: error });
  return error;
}
