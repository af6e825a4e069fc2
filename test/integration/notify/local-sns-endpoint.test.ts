/**
 * The local SNS must refuse what SNS refuses, or the notifier tests could pass against it and fail in AWS.
 * These tests talk to it with the real SDK client (and, for the protocol itself, with raw HTTP).
 */
import {
  CreateTopicCommand,
  InvalidParameterException,
  ListTopicsCommand,
  NotFoundException,
  PublishCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localSnsClient, startLocalSnsEndpoint, type RunningLocalSns } from '../../../local/sns-endpoint.js';

let sns: RunningLocalSns;
let client: SNSClient;
let topicArn: string;

beforeAll(async () => {
  sns = await startLocalSnsEndpoint();
  client = localSnsClient(sns.endpoint, { maxAttempts: 1 });
  topicArn = sns.createTopic('fidelity');
});

afterAll(async () => {
  client.destroy();
  await sns.stop();
});

const publish = (input: Omit<ConstructorParameters<typeof PublishCommand>[0], 'TopicArn'>) =>
  client.send(new PublishCommand({ TopicArn: topicArn, ...input }));

describe('Local SNS endpoint', () => {
  it.each([
    ['a line break', 'two\nlines'],
    ['a tab', 'a\tb'],
    ['a leading space', ' late start'],
    ['non-ASCII', 'caf\u00e9'],
    ['101 characters', 's'.repeat(101)],
    ['nothing', ''],
  ])('refuses a subject with %s as InvalidParameter', async (_what, subject) => {
    await expect(publish({ Message: 'm', Subject: subject })).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
  });

  it('accepts a subject of exactly 100 printable characters', async () => {
    await expect(publish({ Message: 'm', Subject: `${'s'.repeat(99)}!` })).resolves.toHaveProperty(
      'MessageId',
    );
  });

  it('counts message attributes toward the 256 KiB limit', async () => {
    const attributes = { k: { DataType: 'String', StringValue: 'v' } }; // 1 + 6 + 1 bytes
    const limit = 256 * 1024;
    await expect(
      publish({ Message: 'm'.repeat(limit - 8), MessageAttributes: attributes }),
    ).resolves.toHaveProperty('MessageId');
    await expect(publish({ Message: 'm'.repeat(limit - 7), MessageAttributes: attributes })).rejects.toThrow(
      /Message too long/,
    );
  });

  it('answers a publish to an unknown topic with NotFound and HTTP 404, as SNS does', async () => {
    const attempt = client.send(new PublishCommand({ TopicArn: sns.topicArn('nowhere'), Message: 'm' }));
    await expect(attempt).rejects.toBeInstanceOf(NotFoundException);
    await expect(attempt).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it('creates topics idempotently and lists them', async () => {
    const first = await client.send(new CreateTopicCommand({ Name: 'listed' }));
    const again = await client.send(new CreateTopicCommand({ Name: 'listed' }));
    expect(again.TopicArn).toBe(first.TopicArn);
    const { Topics = [] } = await client.send(new ListTopicsCommand({}));
    expect(Topics.map((t) => t.TopicArn)).toEqual(expect.arrayContaining([topicArn, first.TopicArn]));
  });

  it('refuses an unsigned request and an unknown API version with XML errors', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(sns.endpoint, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    const unsigned = await post('Action=ListTopics&Version=2010-03-31');
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toMatch(
      /<ErrorResponse xmlns="[^"]+"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/,
    );
    const oldVersion = await post('Action=ListTopics&Version=2009-01-01', {
      authorization: 'AWS4-HMAC-SHA256 x',
    });
    expect(oldVersion.status).toBe(400);
    expect(await oldVersion.text()).toContain('<Code>NoSuchVersion</Code>');
  });

  it('stops with a keep-alive connection open, after which requests fail', async () => {
    const other = await startLocalSnsEndpoint();
    const keepAlive = localSnsClient(other.endpoint, { maxAttempts: 1 });
    try {
      await keepAlive.send(new ListTopicsCommand({}));
      await other.stop();
      await expect(keepAlive.send(new ListTopicsCommand({}))).rejects.toThrow();
    } finally {
      keepAlive.destroy();
    }
  });
});
