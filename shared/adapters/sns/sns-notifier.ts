import { createHash } from 'node:crypto';
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { ExecutionIdSchema, HostIdSchema } from '../../domain/identifiers.js';
import { parseWith } from '../../domain/validation.js';
import type { Notification, NotificationKind, Notifier } from '../../ports/notifier.js';
import { toNotificationError } from './sns-errors.js';
import { attributeBytes, fitMessage, MAX_PUBLISH_BYTES, toSnsSubject } from './sns-publish-limits.js';

const NOTIFICATION_KINDS = [
  'completed',
  'recovered',
  'quarantined',
  'failed',
  'refused',
  'approval-requested',
] as const satisfies readonly NotificationKind[];

/** Topic names are 1-256 of A-Z a-z 0-9 _ -, FIFO topics ending in `.fifo`; any partition and region. */
export const SnsTopicArnSchema = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/,
    'SNS topic ARN: arn:<partition>:sns:<region>:<12-digit account>:<topic name>',
  );

/**
 * The identifying fields are checked strictly (they become message attributes that operators filter on);
 * the free text is not, because it is made to fit instead (see sns-publish-limits.ts).
 */
const NotificationSchema = z.object({
  kind: z.enum(NOTIFICATION_KINDS),
  hostId: HostIdSchema,
  executionId: ExecutionIdSchema,
  subject: z.string(),
  message: z.string(),
});

/**
 * Publishes notifications to one SNS topic. Each message carries String attributes `kind`, `hostId` and
 * `executionId`, so a subscription can take only what it cares about with a filter policy such as
 * `{"kind": ["quarantined", "failed"]}`.
 *
 * On a FIFO topic the message group is the host (one host's notifications stay in order, hosts do not
 * wait on each other) and the deduplication id is a digest of the notification, so a step retried within
 * SNS's five-minute window notifies once. On a standard topic a retried step may notify twice.
 *
 * @example
 * const notifier = new SnsNotifier(new SNSClient({}), 'arn:aws:sns:eu-west-1:123456789012:rejuv-ops');
 * await notifier.notify({
 *   kind: 'quarantined', hostId: 'h-17', executionId: 'x1',
 *   subject: 'h-17 quarantined', message: 'Recover failed: …',
 * });
 */
export class SnsNotifier implements Notifier {
  private readonly topicArn: string;
  private readonly fifo: boolean;

  /** @throws ValidationError when `topicArn` is not an SNS topic ARN. */
  constructor(
    private readonly client: SNSClient,
    topicArn: string,
  ) {
    this.topicArn = parseWith(SnsTopicArnSchema, 'notification topic ARN', topicArn);
    this.fifo = this.topicArn.endsWith('.fifo');
  }

  /**
   * @throws ValidationError for a notification whose kind, host id or execution id is malformed
   * @throws NotificationTopicNotFoundError, NotificationRejectedError (not retryable) or
   *   NotificationUnavailableError (retryable) when SNS does not take it
   */
  async notify(notification: Notification): Promise<void> {
    const valid = parseWith(NotificationSchema, 'notification', notification);
    const fallbackSubject = `rejuv ${valid.kind}: host ${valid.hostId}`;
    const attributes = {
      kind: { DataType: 'String', StringValue: valid.kind },
      hostId: { DataType: 'String', StringValue: valid.hostId },
      executionId: { DataType: 'String', StringValue: valid.executionId },
    } satisfies Record<string, MessageAttributeValue>;
    const text = valid.message.length > 0 ? valid.message : toSnsSubject(valid.subject, fallbackSubject);
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: toSnsSubject(valid.subject, fallbackSubject),
          Message: fitMessage(text, MAX_PUBLISH_BYTES - attributeBytes(attributes)),
          MessageAttributes: attributes,
          ...(this.fifo
            ? { MessageGroupId: valid.hostId, MessageDeduplicationId: deduplicationId(valid) }
            : {}),
        }),
      );
    } catch (error) {
      throw toNotificationError(error, this.topicArn);
    }
  }
}

/** The same notification gives the same id: 64 hex digits, within SNS's 128-character limit. */
function deduplicationId(notification: z.output<typeof NotificationSchema>): string {
  const { kind, hostId, executionId, subject, message } = notification;
  return createHash('sha256')
    .update(JSON.stringify([kind, hostId, executionId, subject, message]))
    .digest('hex');
}
