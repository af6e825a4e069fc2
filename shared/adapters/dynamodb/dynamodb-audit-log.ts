import {
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  verifyChain,
  type ChainHead,
  type ChainVerdict,
  type StoredRecord,
} from '../../domain/audit-chain.js';
import {
  AuditChainIdSchema,
  AuditEventSchema,
  AuditRecordSchema,
  GENESIS_HASH,
  sealRecord,
  type AuditEventInput,
  type AuditRecord,
} from '../../domain/audit-record.js';
import { AuditContentionError, CorruptItemError } from '../../domain/errors.js';
import { describeIssues, parseWith } from '../../domain/validation.js';
import type { AuditExportFilter, AuditLog } from '../../ports/audit-log.js';
import { cancellationOutcome, isTransactionConflict } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

const HEAD_SEQ = 0;
const RECORD_KIND = 'record';
const HEAD_KIND = 'head';
const EVENT_KIND = 'event';

const HeadItemSchema = z.object({
  chainId: AuditChainIdSchema,
  seq: z.literal(HEAD_SEQ),
  kind: z.literal(HEAD_KIND),
  lastSeq: z.number().int().nonnegative(),
  lastHash: z.string().regex(/^[0-9a-f]{64}$/),
});

const EventMarkerSchema = z.object({ kind: z.literal(EVENT_KIND), recordSeq: z.number().int().positive() });

export interface AuditLogOptions {
  /** How many times an append may lose the race for the next sequence number before giving up. */
  readonly maxAppendAttempts?: number;
}

/**
 * Each append is one transaction over three items: the chain head (conditional on the sequence number
 * the appender read, which serialises appenders without a lock), the new record (which must not exist)
 * and a marker for the event id (which must not exist either, so a retried append writes nothing).
 */
export class DynamoDbAuditLog implements AuditLog {
  private readonly maxAppendAttempts: number;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: AuditLogOptions = {},
  ) {
    this.maxAppendAttempts = options.maxAppendAttempts ?? 100;
  }

  async append(chainId: string, event: AuditEventInput): Promise<AuditRecord> {
    parseWith(AuditChainIdSchema, 'audit chain id', chainId);
    const valid = parseWith(AuditEventSchema, 'audit event', event);
    for (let attempt = 1; attempt <= this.maxAppendAttempts; attempt++) {
      const head = await this.readHead(chainId);
      const record = sealRecord({
        ...valid,
        chainId,
        seq: (head?.lastSeq ?? 0) + 1,
        prevHash: head?.lastHash ?? GENESIS_HASH,
      });
      try {
        await this.documents.send(
          new TransactWriteCommand({ TransactItems: this.appendItems(record, head) }),
        );
        return record;
      } catch (error) {
        const outcome = cancellationOutcome(error);
        if (outcome?.[2] === 'condition') return this.recordOfEvent(chainId, valid.eventId);
        if (outcome === undefined && !isTransactionConflict(error)) throw error;
      }
      // Lost the race: back off a little, with jitter, so the losers do not collide again in lockstep.
      await sleep(Math.random() * Math.min(100, 5 * attempt));
    }
    throw new AuditContentionError(chainId, this.maxAppendAttempts);
  }

  private appendItems(record: AuditRecord, head: ChainHead | undefined) {
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: {
            chainId: record.chainId,
            seq: HEAD_SEQ,
            kind: HEAD_KIND,
            lastSeq: record.seq,
            lastHash: record.hash,
          },
          ConditionExpression: head === undefined ? 'attribute_not_exists(chainId)' : 'lastSeq = :seenSeq',
          ...(head === undefined ? {} : { ExpressionAttributeValues: { ':seenSeq': head.lastSeq } }),
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...record, kind: RECORD_KIND },
          ConditionExpression: 'attribute_not_exists(chainId)',
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: {
            chainId: eventMarkerKey(record.chainId, record.eventId),
            seq: HEAD_SEQ,
            kind: EVENT_KIND,
            recordSeq: record.seq,
          },
          ConditionExpression: 'attribute_not_exists(chainId)',
        },
      },
    ];
  }

  private async recordOfEvent(chainId: string, eventId: string): Promise<AuditRecord> {
    const markerKey = eventMarkerKey(chainId, eventId);
    const marker = parseItem(
      EventMarkerSchema,
      this.tableName,
      markerKey,
      await this.getItem(markerKey, HEAD_SEQ),
    );
    const item = await this.getItem(chainId, marker.recordSeq);
    return parseItem(AuditRecordSchema, this.tableName, `${chainId}/${marker.recordSeq}`, withoutKind(item));
  }

  async head(chainId: string): Promise<AuditRecord | undefined> {
    parseWith(AuditChainIdSchema, 'audit chain id', chainId);
    const head = await this.readHead(chainId);
    if (head === undefined) return undefined;
    const key = `${chainId}/${head.lastSeq}`;
    return parseItem(
      AuditRecordSchema,
      this.tableName,
      key,
      withoutKind(await this.getItem(chainId, head.lastSeq)),
    );
  }

  async *read(chainId: string): AsyncIterable<AuditRecord> {
    for await (const stored of this.readStored(chainId)) {
      if ('corrupt' in stored)
        throw new CorruptItemError(this.tableName, `${chainId}/${stored.seq}`, stored.corrupt);
      yield stored.record;
    }
  }

  async verify(chainId: string): Promise<ChainVerdict> {
    parseWith(AuditChainIdSchema, 'audit chain id', chainId);
    const stored: StoredRecord[] = [];
    for await (const s of this.readStored(chainId)) stored.push(s);
    return verifyChain(chainId, stored, await this.readHead(chainId));
  }

  async chainIds(): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: '#kind = :head',
          ExpressionAttributeNames: { '#kind': 'kind' },
          ExpressionAttributeValues: { ':head': HEAD_KIND },
          ProjectionExpression: 'chainId',
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) ids.push(String(item['chainId']));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return ids.sort();
  }

  async *exportJsonLines(filter: AuditExportFilter = {}): AsyncIterable<string> {
    const since = filter.since === undefined ? undefined : parseWith(z.iso.datetime(), 'since', filter.since);
    const chains = filter.chainId === undefined ? await this.chainIds() : [filter.chainId];
    for (const chainId of chains) {
      for await (const record of this.read(chainId)) {
        if (since === undefined || Date.parse(record.at) >= Date.parse(since)) yield JSON.stringify(record);
      }
    }
  }

  /** Records of a chain in order; unparseable ones are passed on as such, for verification to report. */
  async *readStored(chainId: string, fromSeq = 1): AsyncIterable<StoredRecord> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'chainId = :chain AND #seq >= :from',
          ExpressionAttributeNames: { '#seq': 'seq' },
          ExpressionAttributeValues: { ':chain': chainId, ':from': Math.max(fromSeq, HEAD_SEQ + 1) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const seq = Number(item['seq']);
        const parsed = AuditRecordSchema.safeParse(withoutKind(item));
        yield parsed.success ? { seq, record: parsed.data } : { seq, corrupt: describeIssues(parsed.error) };
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  private async readHead(chainId: string): Promise<ChainHead | undefined> {
    const item = await this.getItem(chainId, HEAD_SEQ);
    return item === undefined
      ? undefined
      : parseItem(HeadItemSchema, this.tableName, `${chainId}/head`, item);
  }

  private async getItem(chainId: string, seq: number): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { chainId, seq }, ConsistentRead: true }),
    );
    return Item;
  }
}

function eventMarkerKey(chainId: string, eventId: string): string {
  return `event#${chainId}#${eventId}`;
}

function withoutKind(item: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (item === undefined) return undefined;
  const { kind: _kind, ...rest } = item;
  return rest;
}
