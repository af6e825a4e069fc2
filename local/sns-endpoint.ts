/**
 * A local Amazon SNS for tests, the demo and local mode: the real `@aws-sdk/client-sns` talks to it over
 * the Query protocol. It keeps topics and records every accepted message instead of delivering it, and it
 * refuses what SNS refuses on publish (subject rules, size limit, attribute rules, unknown topics, FIFO
 * requirements) with SNS's own error codes, so an adapter that passes here does not first fail in AWS.
 *
 * Emulated: CreateTopic (with FifoTopic and ContentBasedDeduplication), Publish to topics, ListTopics.
 * Not emulated: subscriptions and delivery, SMS and platform endpoints, MessageStructure=json, topic
 * policies, KMS, tags, and the per-account throughput quotas (inject throttling with `failNext`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { systemClock, type Clock } from '../shared/domain/clock.js';
import { QueryServiceError } from './query-protocol/query-errors.js';
import { parseQueryInput, queryList, queryMap } from './query-protocol/query-params.js';
import { authorizeWith, startQueryServer } from './query-protocol/query-server.js';
import type { Authorizer } from './iam/local-iam.js';
import { snsRequests } from './iam/service-requests.js';
import { xmlElement, xmlList } from './query-protocol/query-xml.js';

export interface LocalSnsOptions {
  /** The region in topic ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** The account in topic ARNs. @default '000000000000' */
  readonly accountId?: string;
  /** Time for FIFO deduplication windows. @default systemClock */
  readonly clock?: Clock;
  /** Local IAM: every request is authorized as its signer's policies allow. @default anyone may do anything */
  readonly authorizer?: Authorizer;
}

export interface PublishedAttribute {
  readonly dataType: string;
  readonly stringValue?: string;
  /** Base64, as it travelled. */
  readonly binaryValue?: string;
}

/** One message SNS accepted: what subscribers would have received. */
export interface PublishedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  readonly messageAttributes: Readonly<Record<string, PublishedAttribute>>;
  readonly messageGroupId?: string;
  readonly messageDeduplicationId?: string;
  readonly sequenceNumber?: string;
}

export type LocalSnsAction = 'CreateTopic' | 'Publish' | 'ListTopics';

export interface RunningLocalSns {
  /** For the SDK client's `endpoint`. */
  readonly endpoint: string;
  /** The ARN a topic of this name has (or would have) here; does not create it. */
  topicArn(name: string): string;
  /** Creates a topic directly (no request), as CreateTopic would; returns its ARN. */
  createTopic(
    name: string,
    options?: { readonly fifo?: boolean; readonly contentBasedDeduplication?: boolean },
  ): string;
  /** Every message accepted so far, oldest first; only those for `topicArn` when given. */
  published(topicArn?: string): readonly PublishedMessage[];
  /** The next `count` requests for `action` fail with `code` (e.g. `Throttled`, sent as 429 like SNS). */
  failNext(action: LocalSnsAction, code: string, count?: number): void;
  requestCount(action: LocalSnsAction): number;
  stop(): Promise<void>;
}

/** SNS's limit on one message: body plus attribute names, types and values, in bytes. */
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_SUBJECT_CHARS = 100;
const MAX_MESSAGE_ATTRIBUTES = 10;
const FIFO_DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;
const LIST_TOPICS_PAGE_SIZE = 100;

const SNS_XML_NAMESPACE = 'http://sns.amazonaws.com/doc/2010-03-31/';
/** Where SNS departs from "every error is a 400". */
const SNS_HTTP_STATUS: Readonly<Record<string, number>> = {
  NotFound: 404,
  ResourceNotFound: 404,
  AuthorizationError: 403,
  Throttled: 429,
  InternalError: 500,
};

const TopicArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/, 'not an SNS topic ARN');

const CreateTopicParams = z
  .object({
    Name: z.string(),
    Attributes: queryMap('key', 'value', z.string()).optional(),
    Tags: queryList(z.object({ Key: z.string(), Value: z.string() }).strict()).optional(),
    DataProtectionPolicy: z.string().optional(),
  })
  .strict();

const PublishParams = z
  .object({
    TopicArn: z.string().optional(),
    TargetArn: z.string().optional(),
    PhoneNumber: z.string().optional(),
    Message: z.string(),
    Subject: z.string().optional(),
    MessageStructure: z.string().optional(),
    MessageAttributes: queryMap(
      'Name',
      'Value',
      z
        .object({
          DataType: z.string(),
          StringValue: z.string().optional(),
          BinaryValue: z.string().optional(),
        })
        .strict(),
    ).optional(),
    MessageDeduplicationId: z.string().optional(),
    MessageGroupId: z.string().optional(),
  })
  .strict();

const ListTopicsParams = z.object({ NextToken: z.string().regex(/^\d+$/).optional() }).strict();

interface Topic {
  readonly arn: string;
  readonly fifo: boolean;
  readonly contentBasedDeduplication: boolean;
  /** FIFO only: deduplication id → the first message's id, sequence number and acceptance time. */
  readonly deduplication: Map<string, { messageId: string; sequenceNumber: string; atMs: number }>;
}

export async function startLocalSnsEndpoint(options: LocalSnsOptions = {}): Promise<RunningLocalSns> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const clock = options.clock ?? systemClock;
  const topics = new Map<string, Topic>();
  const published: PublishedMessage[] = [];
  let sequence = 0n;

  const topicArn = (name: string): string => `arn:aws:sns:${region}:${accountId}:${name}`;

  const createTopic = (name: string, fifo: boolean, contentBasedDeduplication: boolean): string => {
    const nameIsFifo = name.endsWith('.fifo');
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(nameIsFifo ? name.slice(0, -5) : name) || name.length > 256) {
      throw invalidParameter('Topic Name');
    }
    if (nameIsFifo !== fifo) {
      throw invalidParameter('Topic Name', 'FIFO topic names end in .fifo and set FifoTopic=true');
    }
    const arn = topicArn(name);
    const existing = topics.get(arn);
    if (existing !== undefined) {
      if (existing.contentBasedDeduplication !== contentBasedDeduplication) {
        throw new QueryServiceError(
          'InvalidParameter',
          'Invalid parameter: Topic already exists with different attributes',
        );
      }
      return arn;
    }
    topics.set(arn, { arn, fifo, contentBasedDeduplication, deduplication: new Map() });
    return arn;
  };

  const publish = (input: z.output<typeof PublishParams>): { messageId: string; sequenceNumber?: string } => {
    if (input.TargetArn !== undefined || input.PhoneNumber !== undefined) {
      throw invalidParameter('TargetArn', 'only publishing to topics is emulated locally');
    }
    if (input.TopicArn === undefined)
      throw invalidParameter('TopicArn or TargetArn', 'no value for required parameter');
    if (!TopicArnSchema.safeParse(input.TopicArn).success) throw invalidParameter('TopicArn');
    const topic = topics.get(input.TopicArn);
    if (topic === undefined) throw new QueryServiceError('NotFound', 'Topic does not exist');
    if (input.MessageStructure !== undefined) {
      throw invalidParameter('MessageStructure', 'MessageStructure is not emulated locally');
    }
    if (input.Message.length === 0) throw invalidParameter('Empty message');
    if (input.Subject !== undefined && !isValidSubject(input.Subject)) throw invalidParameter('Subject');
    const attributes = checkAttributes(input.MessageAttributes ?? {});
    if (Buffer.byteLength(input.Message, 'utf8') + attributes.bytes > MAX_MESSAGE_BYTES) {
      throw invalidParameter('Message too long');
    }
    const fifo = checkFifoParameters(topic, input);

    const nowMs = clock.nowMs();
    if (fifo !== undefined) {
      const first = topic.deduplication.get(fifo.deduplicationId);
      // A duplicate inside the window is accepted and answered as the original, but not delivered again.
      if (first !== undefined && nowMs - first.atMs < FIFO_DEDUPLICATION_WINDOW_MS) {
        return { messageId: first.messageId, sequenceNumber: first.sequenceNumber };
      }
    }
    const messageId = randomUUID();
    const sequenceNumber = fifo === undefined ? undefined : String((sequence += 1n)).padStart(20, '0');
    if (fifo !== undefined && sequenceNumber !== undefined) {
      topic.deduplication.set(fifo.deduplicationId, { messageId, sequenceNumber, atMs: nowMs });
    }
    published.push(
      Object.freeze({
        messageId,
        topicArn: topic.arn,
        message: input.Message,
        messageAttributes: attributes.recorded,
        ...(input.Subject === undefined ? {} : { subject: input.Subject }),
        ...(fifo === undefined
          ? {}
          : { messageGroupId: fifo.groupId, messageDeduplicationId: fifo.deduplicationId, sequenceNumber }),
      }),
    );
    return sequenceNumber === undefined ? { messageId } : { messageId, sequenceNumber };
  };

  const server = await startQueryServer({
    version: '2010-03-31',
    xmlNamespace: SNS_XML_NAMESPACE,
    httpStatusOf: SNS_HTTP_STATUS,
    ...(options.authorizer === undefined
      ? {}
      : {
          authorize: authorizeWith(options.authorizer, 'AuthorizationError', (action, params) =>
            snsRequests({ partition: 'aws', region, accountId }, action, params),
          ),
        }),
    actions: {
      CreateTopic: (params) => {
        const input = parseQueryInput(CreateTopicParams, params, 'InvalidParameter');
        const attributes = input.Attributes ?? {};
        const arn = createTopic(
          input.Name,
          attributes['FifoTopic'] === 'true',
          attributes['ContentBasedDeduplication'] === 'true',
        );
        return xmlElement('TopicArn', arn);
      },
      Publish: (params) => {
        const result = publish(parseQueryInput(PublishParams, params, 'InvalidParameter'));
        return [
          ...xmlElement('MessageId', result.messageId),
          ...xmlElement('SequenceNumber', result.sequenceNumber),
        ];
      },
      ListTopics: (params) => {
        const input = parseQueryInput(ListTopicsParams, params, 'InvalidParameter');
        const arns = [...topics.keys()].sort();
        const start = Number(input.NextToken ?? '0');
        const page = arns.slice(start, start + LIST_TOPICS_PAGE_SIZE);
        const next =
          start + LIST_TOPICS_PAGE_SIZE < arns.length ? String(start + LIST_TOPICS_PAGE_SIZE) : undefined;
        return [
          ...xmlList('Topics', page, (arn) => xmlElement('TopicArn', arn)),
          ...xmlElement('NextToken', next),
        ];
      },
    },
  });

  return {
    endpoint: server.endpoint,
    topicArn,
    createTopic: (name, topicOptions = {}) =>
      createTopic(
        name,
        topicOptions.fifo ?? name.endsWith('.fifo'),
        topicOptions.contentBasedDeduplication ?? false,
      ),
    published: (arn) => Object.freeze(published.filter((m) => arn === undefined || m.topicArn === arn)),
    failNext: (action, code, count) => server.failNext(action, code, count),
    requestCount: (action) => server.requestCount(action),
    stop: () => server.stop(),
  };
}

/** A real SNS client pointed at a local endpoint, with the dummy credentials it needs to sign. */
export function localSnsClient(endpoint: string, options: { readonly maxAttempts?: number } = {}): SNSClient {
  return new SNSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}

/**
 * SNS's subject rule: at most 100 characters of printable ASCII, no line breaks or control characters,
 * starting with a letter, digit or punctuation mark.
 */
function isValidSubject(subject: string): boolean {
  return subject.length <= MAX_SUBJECT_CHARS && /^[\x21-\x7e][\x20-\x7e]*$/.test(subject);
}

type AttributeInput = NonNullable<z.output<typeof PublishParams>['MessageAttributes']>;

/** Checks message attributes as SNS does; returns them as recorded and their size toward the message limit. */
function checkAttributes(input: AttributeInput): {
  recorded: Record<string, PublishedAttribute>;
  bytes: number;
} {
  const names = Object.keys(input);
  if (names.length > MAX_MESSAGE_ATTRIBUTES) {
    throw invalidAttribute(
      `Number of message attributes [${names.length}] exceeds the allowed maximum [10].`,
    );
  }
  const recorded: Record<string, PublishedAttribute> = {};
  let bytes = 0;
  for (const name of names) {
    const attribute = input[name];
    if (attribute === undefined) continue;
    if (!isValidAttributeName(name)) throw invalidAttribute(`Invalid attribute name: ${name}`);
    const baseType = /^(String\.Array|String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$/.exec(
      attribute.DataType,
    )?.[1];
    if (baseType === undefined) {
      throw invalidAttribute(
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
      );
    }
    if (baseType === 'Binary') {
      if (attribute.BinaryValue === undefined || attribute.StringValue !== undefined) {
        throw invalidAttribute(`The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      }
      bytes += Buffer.from(attribute.BinaryValue, 'base64').byteLength;
      recorded[name] = { dataType: attribute.DataType, binaryValue: attribute.BinaryValue };
    } else {
      if (attribute.StringValue === undefined || attribute.StringValue.length === 0) {
        throw invalidAttribute(
          `The message attribute '${name}' must contain non-empty message attribute value.`,
        );
      }
      if (baseType === 'Number' && !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(attribute.StringValue)) {
        throw invalidAttribute(`Could not cast message attribute '${name}' value to number.`);
      }
      bytes += Buffer.byteLength(attribute.StringValue, 'utf8');
      recorded[name] = { dataType: attribute.DataType, stringValue: attribute.StringValue };
    }
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(attribute.DataType, 'utf8');
  }
  return { recorded, bytes };
}

function isValidAttributeName(name: string): boolean {
  return (
    /^[A-Za-z0-9_.-]{1,256}$/.test(name) &&
    !name.startsWith('.') &&
    !name.endsWith('.') &&
    !name.includes('..') &&
    !/^(aws|amazon)\./i.test(name)
  );
}

/** FIFO topics need a group and a deduplication id (unless content-based); standard topics take neither id. */
function checkFifoParameters(
  topic: Topic,
  input: z.output<typeof PublishParams>,
): { groupId: string; deduplicationId: string } | undefined {
  const idPattern = /^[\x21-\x7e]{1,128}$/;
  if (!topic.fifo) {
    if (input.MessageDeduplicationId !== undefined) {
      throw invalidParameter(
        'MessageDeduplicationId',
        'The request includes MessageDeduplicationId parameter that is not valid for this topic type',
      );
    }
    return undefined;
  }
  if (input.MessageGroupId === undefined || !idPattern.test(input.MessageGroupId)) {
    throw invalidParameter('MessageGroupId', 'The MessageGroupId parameter is required for FIFO topics');
  }
  const deduplicationId =
    input.MessageDeduplicationId ??
    (topic.contentBasedDeduplication ? createHash('sha256').update(input.Message).digest('hex') : undefined);
  if (deduplicationId === undefined || !idPattern.test(deduplicationId)) {
    throw invalidParameter(
      'MessageDeduplicationId',
      'The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
    );
  }
  return { groupId: input.MessageGroupId, deduplicationId };
}

function invalidParameter(parameter: string, reason?: string): QueryServiceError {
  return new QueryServiceError(
    'InvalidParameter',
    `Invalid parameter: ${parameter}${reason === undefined ? '' : ` Reason: ${reason}`}`,
  );
}

function invalidAttribute(message: string): QueryServiceError {
  return new QueryServiceError('ParameterValueInvalid', message);
}
