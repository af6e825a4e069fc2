import { Buffer } from 'node:buffer';
import type { SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localSnsClient, startLocalSnsEndpoint, type RunningLocalSns } from '../../../local/sns-endpoint.js';
import {
  NotificationTopicNotFoundError,
  NotificationUnavailableError,
} from '../../../shared/adapters/sns/sns-errors.js';
import { SnsNotifier } from '../../../shared/adapters/sns/sns-notifier.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import type { Notification } from '../../../shared/ports/notifier.js';

let sns: RunningLocalSns;
let client: SNSClient;
let topicArn: string;
let notifier: SnsNotifier;
let n = 0;

beforeAll(async () => {
  sns = await startLocalSnsEndpoint();
  client = localSnsClient(sns.endpoint);
  topicArn = sns.createTopic('rejuv-ops');
  notifier = new SnsNotifier(client, topicArn);
});

afterAll(async () => {
  client.destroy();
  await sns.stop();
});

function notification(overrides: Partial<Notification> = {}): Notification {
  n += 1;
  return {
    kind: 'quarantined',
    hostId: `host-${n}`,
    executionId: `exec-${n}`,
    subject: `host-${n} quarantined`,
    message: `Recover failed on host-${n}; a person must look at it.`,
    ...overrides,
  };
}

/** Publishes `note` and returns what SNS recorded for it (the last message on the topic). */
async function notifyAndRead(note: Notification, target: SnsNotifier = notifier, arn: string = topicArn) {
  const before = sns.published(arn).length;
  await target.notify(note);
  const after = sns.published(arn);
  expect(after).toHaveLength(before + 1);
  return after[after.length - 1];
}

const PRINTABLE_ASCII_SUBJECT = /^[\x21-\x7e][\x20-\x7e]*$/;

describe('Class: SnsNotifier', () => {
  describe('Method: notify', () => {
    it('publishes the message with kind, hostId and executionId as String attributes for filter policies', async () => {
      const note = notification({ kind: 'failed' });
      const published = await notifyAndRead(note);
      expect(published).toMatchObject({ topicArn, subject: note.subject, message: note.message });
      expect(published?.messageAttributes).toEqual({
        kind: { dataType: 'String', stringValue: 'failed' },
        hostId: { dataType: 'String', stringValue: note.hostId },
        executionId: { dataType: 'String', stringValue: note.executionId },
      });
    });

    it('turns a subject with line breaks, accents, symbols and 200 extra characters into one SNS accepts', async () => {
      const subject = `Host h-1 quarantined:\r\nRecover \u2014 failed for VM \u00abd\u00e9j\u00e0\u00bb \u2603\t${'x'.repeat(200)}`;
      const published = await notifyAndRead(notification({ subject }));
      const sent = published?.subject ?? '';
      expect(sent).toMatch(PRINTABLE_ASCII_SUBJECT);
      expect(sent.length).toBeLessThanOrEqual(100);
      expect(sent.startsWith('Host h-1 quarantined: Recover - failed for VM ?deja? ? xxx')).toBe(true);
      expect(sent.endsWith('...')).toBe(true);
    });

    it('falls back to a subject naming the kind and host when nothing printable is left', async () => {
      const note = notification({ kind: 'refused', subject: '\r\n\t  ' });
      const published = await notifyAndRead(note);
      expect(published?.subject).toBe(`rejuv refused: host ${note.hostId}`);
    });

    it('sends the subject as the body when the message is empty (SNS refuses an empty message)', async () => {
      const note = notification({ message: '' });
      const published = await notifyAndRead(note);
      expect(published?.message).toBe(note.subject);
    });

    it('cuts a message over 256 KiB on a character boundary and says so, so SNS takes it', async () => {
      const message = '\u00e9'.repeat(200_000); // 400,000 bytes of two-byte characters
      const published = await notifyAndRead(notification({ message }));
      const sent = published?.message ?? '';
      const attributes = Object.entries(published?.messageAttributes ?? {});
      const attributeBytes = attributes.reduce(
        (sum, [name, a]) => sum + Buffer.byteLength(name + a.dataType + (a.stringValue ?? '')),
        0,
      );
      expect(Buffer.byteLength(sent) + attributeBytes).toBeLessThanOrEqual(256 * 1024);
      const [body, marker] = sent.split('\n[truncated');
      expect(body).toMatch(/^\u00e9+$/); // no split character, no replacement character
      expect(marker).toContain('400000 bytes');
    });

    it('refuses a notification with a malformed host id and publishes nothing', async () => {
      const before = sns.published().length;
      await expect(notifier.notify(notification({ hostId: 'no spaces allowed' }))).rejects.toThrow(
        ValidationError,
      );
      expect(sns.published()).toHaveLength(before);
    });

    it('throws NotificationTopicNotFoundError, not retryable, for a topic that does not exist', async () => {
      const missing = new SnsNotifier(client, sns.topicArn('deleted-topic'));
      const attempt = missing.notify(notification());
      await expect(attempt).rejects.toBeInstanceOf(NotificationTopicNotFoundError);
      await expect(attempt).rejects.toMatchObject({
        name: 'NotificationTopicNotFoundError',
        retryable: false,
        topicArn: sns.topicArn('deleted-topic'),
      });
    });

    it('is retried by the SDK when SNS throttles once: one message, two requests', async () => {
      const requestsBefore = sns.requestCount('Publish');
      sns.failNext('Publish', 'Throttled', 1);
      await notifyAndRead(notification());
      expect(sns.requestCount('Publish') - requestsBefore).toBe(2);
    });

    it('surfaces throttling that outlasts the SDK retries as a retryable NotificationUnavailableError', async () => {
      const twoAttempts = localSnsClient(sns.endpoint, { maxAttempts: 2 });
      try {
        const impatient = new SnsNotifier(twoAttempts, topicArn);
        const requestsBefore = sns.requestCount('Publish');
        const publishedBefore = sns.published().length;
        sns.failNext('Publish', 'Throttled', 2);
        const attempt = impatient.notify(notification());
        await expect(attempt).rejects.toBeInstanceOf(NotificationUnavailableError);
        await expect(attempt).rejects.toMatchObject({ retryable: true, code: 'ThrottledException' });
        expect(sns.requestCount('Publish') - requestsBefore).toBe(2);
        expect(sns.published()).toHaveLength(publishedBefore);
      } finally {
        twoAttempts.destroy();
      }
    });

    it('on a FIFO topic groups messages by host and notifies once when a step is retried', async () => {
      const fifoArn = sns.createTopic('rejuv-ops.fifo', { fifo: true });
      const fifo = new SnsNotifier(client, fifoArn);
      const note = notification({ kind: 'completed' });
      await fifo.notify(note);
      await fifo.notify(note); // the retried step
      await fifo.notify({ ...note, kind: 'failed' });
      const published = sns.published(fifoArn);
      expect(published.map((m) => m.messageAttributes['kind']?.stringValue)).toEqual(['completed', 'failed']);
      expect(published.every((m) => m.messageGroupId === note.hostId)).toBe(true);
      expect(published[0]?.messageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('Constructor', () => {
    it.each(['', 'rejuv-ops', 'arn:aws:sqs:us-east-1:123456789012:q', 'arn:aws:sns:us-east-1:123:t'])(
      'refuses %j as a topic ARN',
      (arn) => {
        expect(() => new SnsNotifier(client, arn)).toThrow(ValidationError);
      },
    );
  });
});
