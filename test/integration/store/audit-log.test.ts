import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../../../shared/domain/audit-record.js';
import { describeBreak } from '../../../shared/domain/audit-chain.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import type { AuditLog } from '../../../shared/ports/audit-log.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';

let t: TestTables;
let audit: AuditLog;
let chainCounter = 0;

beforeAll(async () => {
  t = await freshTables();
  audit = t.store().audit;
});

const event = (i: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput => ({
  eventId: `exec-1:step-${i}`,
  at: new Date(Date.UTC(2026, 10, 25, 1, 0, i)).toISOString(),
  principal: 'arn:aws:iam::123456789012:role/rejuv',
  trigger: 'alarm',
  step: 'Drain',
  outcome: 'succeeded',
  executionId: 'exec-1',
  ...overrides,
});

/** A chain of 20 records written by 20 concurrent appenders. */
async function concurrentChain(): Promise<string> {
  const chainId = `host#audit-${++chainCounter}`;
  await Promise.all(Array.from({ length: 20 }, (_, i) => audit.append(chainId, event(i))));
  return chainId;
}

async function rawRecord(chainId: string, seq: number): Promise<Record<string, unknown>> {
  const { Item } = await t.documents.send(
    new GetCommand({ TableName: t.tables.audit, Key: { chainId, seq } }),
  );
  if (Item === undefined) throw new Error(`no record ${seq}`);
  return Item;
}

async function putRaw(item: Record<string, unknown>): Promise<void> {
  await t.documents.send(new PutCommand({ TableName: t.tables.audit, Item: item }));
}

describe('Class: DynamoDbAuditLog', () => {
  it('20 concurrent appends give 20 records with a contiguous sequence that verifies', async () => {
    const chainId = await concurrentChain();
    const records = [];
    for await (const r of audit.read(chainId)) records.push(r);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(records.map((r) => r.eventId)).size).toBe(20);
    expect(await audit.verify(chainId)).toMatchObject({ ok: true, length: 20 });
  });

  it('records a retried append once and returns the first record', async () => {
    const chainId = `host#retry-${++chainCounter}`;
    const first = await audit.append(chainId, event(1));
    const [again, concurrent] = await Promise.all([
      audit.append(chainId, event(1)),
      audit.append(chainId, event(1)),
    ]);
    expect(again).toEqual(first);
    expect(concurrent).toEqual(first);
    expect(await audit.verify(chainId)).toMatchObject({ ok: true, length: 1 });
  });

  it('gives the last record of a chain as its head, and none for a chain never written', async () => {
    const chainId = `host#head-${++chainCounter}`;
    expect(await audit.head(chainId)).toBeUndefined();
    await audit.append(chainId, event(1));
    const second = await audit.append(chainId, event(2));
    expect(await audit.head(chainId)).toEqual(second);
  });

  describe('tampering, each detected and named', () => {
    it.each([3, 11, 20])('altering record %i', async (seq) => {
      const chainId = await concurrentChain();
      await putRaw({ ...(await rawRecord(chainId, seq)), outcome: 'failed' });
      const verdict = await audit.verify(chainId);
      expect(verdict).toMatchObject({ ok: false, firstBreak: { kind: 'hash-mismatch', seq } });
    });

    it.each([1, 7, 20])('deleting record %i', async (seq) => {
      const chainId = await concurrentChain();
      await t.documents.send(new DeleteCommand({ TableName: t.tables.audit, Key: { chainId, seq } }));
      const verdict = await audit.verify(chainId);
      expect(verdict).toMatchObject({ ok: false, firstBreak: { kind: 'missing', seq } });
      if (!verdict.ok) expect(describeBreak(verdict.firstBreak)).toBe(`record ${seq} is missing`);
    });

    it.each([
      [4, 5],
      [1, 20],
    ])('reordering records %i and %i', async (a, b) => {
      const chainId = await concurrentChain();
      const [ra, rb] = [await rawRecord(chainId, a), await rawRecord(chainId, b)];
      await putRaw({ ...rb, seq: a });
      await putRaw({ ...ra, seq: b });
      expect(await audit.verify(chainId)).toMatchObject({ ok: false, firstBreak: { seq: a } });
    });

    it('replacing a record with a well-formed, re-hashed forgery', async () => {
      const chainId = await concurrentChain();
      const { hashRecord } = await import('../../../shared/domain/audit-record.js');
      const { kind, hash: _hash, ...original } = await rawRecord(chainId, 9);
      const forged = { ...original, reason: 'nothing to see here' } as never;
      await putRaw({ ...(forged as object), kind, hash: hashRecord(forged) });
      expect(await audit.verify(chainId)).toMatchObject({
        ok: false,
        firstBreak: { kind: 'prev-link-mismatch', seq: 10 },
      });
    });

    it('an item edited into something unreadable', async () => {
      const chainId = await concurrentChain();
      await putRaw({ ...(await rawRecord(chainId, 6)), trigger: 42 });
      expect(await audit.verify(chainId)).toMatchObject({
        ok: false,
        firstBreak: { kind: 'corrupt', seq: 6 },
      });
    });
  });

  it('exports chains as JSON Lines in sequence order, filtered by chain and time', async () => {
    // Tables of its own: the tampering tests above leave corrupt chains that an export rightly refuses.
    const audit = (await freshTables()).store().audit;
    const chainA = `host#export-a-${++chainCounter}`;
    const chainB = `host#export-b-${chainCounter}`;
    for (let i = 1; i <= 3; i++) await audit.append(chainA, event(i));
    for (let i = 1; i <= 2; i++) await audit.append(chainB, event(i, { eventId: `b-${i}` }));

    const lines: string[] = [];
    for await (const line of audit.exportJsonLines({ chainId: chainA })) lines.push(line);
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);

    const since: string[] = [];
    for await (const line of audit.exportJsonLines({ chainId: chainA, since: event(2).at })) since.push(line);
    expect(since.map((l) => JSON.parse(l).seq)).toEqual([2, 3]);

    const all: string[] = [];
    for await (const line of audit.exportJsonLines()) all.push(line);
    const chains = all.map((l) => JSON.parse(l).chainId);
    expect(chains.filter((c) => c === chainA)).toHaveLength(3);
    expect(chains.filter((c) => c === chainB)).toHaveLength(2);
    expect(await audit.chainIds()).toEqual([chainA, chainB].sort());
  });

  it('refuses to export a record that no longer parses, naming it', async () => {
    const chainId = await concurrentChain();
    await putRaw({ ...(await rawRecord(chainId, 4)), at: 'not a time' });
    const drain = async () => {
      for await (const _line of audit.exportJsonLines({ chainId })) void _line;
    };
    await expect(drain()).rejects.toThrow(new RegExp(`${chainId}/4 .* is corrupt`));
  });

  it.each([
    ['an unknown outcome', { outcome: 'maybe' }],
    ['an oversized reason', { reason: 'r'.repeat(2000) }],
    ['an empty event id', { eventId: '' }],
    ['a principal of the wrong type', { principal: 7 }],
  ])('refuses an event with %s and writes nothing', async (_what, override) => {
    const chainId = `host#bad-${++chainCounter}`;
    await expect(audit.append(chainId, event(1, override as never))).rejects.toThrow(ValidationError);
    expect(await audit.verify(chainId)).toMatchObject({ ok: true, length: 0 });
    expect(await audit.chainIds()).not.toContain(chainId);
  });
});
