import { describe, expect, it } from 'vitest';
import { describeBreak, verifyChain, type StoredRecord } from '../../../shared/domain/audit-chain.js';
import {
  GENESIS_HASH,
  hashRecord,
  sealRecord,
  type AuditRecord,
} from '../../../shared/domain/audit-record.js';

const CHAIN = 'host#h1';

function chainOf(length: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq++) {
    const record = sealRecord({
      chainId: CHAIN,
      seq,
      prevHash,
      eventId: `e-${seq}`,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
      principal: 'arn:aws:iam::123456789012:role/ops',
      trigger: 'operator',
      step: 'Drain',
      outcome: 'succeeded',
    });
    records.push(record);
    prevHash = record.hash;
  }
  return records;
}

/** The record at `index`; the chains built here always have it. */
function at(records: AuditRecord[], index: number): AuditRecord {
  const record = records[index];
  if (record === undefined) throw new Error(`test chain has no record at ${index}`);
  return record;
}

const stored = (records: AuditRecord[]): StoredRecord[] => records.map((r) => ({ seq: r.seq, record: r }));
const headOf = (records: AuditRecord[]) => {
  const last = records.at(-1);
  return { lastSeq: last?.seq ?? 0, lastHash: last?.hash ?? GENESIS_HASH };
};

describe('Function: verifyChain', () => {
  it('accepts an intact chain and an empty one', () => {
    const records = chainOf(5);
    expect(verifyChain(CHAIN, stored(records), headOf(records))).toMatchObject({
      ok: true,
      length: 5,
      lastHash: records[4]?.hash,
    });
    expect(verifyChain(CHAIN, [], undefined)).toMatchObject({ ok: true, length: 0 });
  });

  it('names a record whose content was altered', () => {
    const records = chainOf(5);
    records[2] = { ...at(records, 2), outcome: 'failed' };
    expect(verifyChain(CHAIN, stored(records), headOf(records))).toMatchObject({
      ok: false,
      firstBreak: { kind: 'hash-mismatch', seq: 3 },
    });
  });

  it('names a record that was altered and re-hashed, by its broken link to the next', () => {
    const records = chainOf(5);
    const { hash: _h, ...unsealed } = { ...at(records, 1), reason: 'forged' };
    records[1] = { ...unsealed, hash: hashRecord(unsealed) };
    expect(verifyChain(CHAIN, stored(records), headOf(records))).toMatchObject({
      ok: false,
      firstBreak: { kind: 'prev-link-mismatch', seq: 3 },
    });
  });

  it('names the first missing record when one in the middle is deleted', () => {
    const records = chainOf(5);
    const head = headOf(records);
    records.splice(3, 1);
    expect(verifyChain(CHAIN, stored(records), head)).toMatchObject({
      ok: false,
      firstBreak: { kind: 'missing', seq: 4 },
    });
  });

  it('catches a truncated tail through the head', () => {
    const records = chainOf(5);
    const head = headOf(records);
    expect(verifyChain(CHAIN, stored(records.slice(0, 4)), head)).toMatchObject({
      ok: false,
      firstBreak: { kind: 'missing', seq: 5 },
    });
  });

  it('names the first of two records whose contents were swapped', () => {
    const records = chainOf(5);
    const swapped = stored(records);
    swapped[1] = { seq: 2, record: { ...at(records, 2), seq: 2 } };
    swapped[2] = { seq: 3, record: { ...at(records, 1), seq: 3 } };
    expect(verifyChain(CHAIN, swapped, headOf(records))).toMatchObject({
      ok: false,
      firstBreak: { kind: 'hash-mismatch', seq: 2 },
    });
  });

  it('reports an unreadable record instead of throwing', () => {
    const records = chainOf(3);
    const broken: StoredRecord[] = [
      ...stored(records.slice(0, 1)),
      { seq: 2, corrupt: ['outcome: invalid'] },
      ...stored(records.slice(2)),
    ];
    const verdict = verifyChain(CHAIN, broken, headOf(records));
    expect(verdict).toMatchObject({ ok: false, firstBreak: { kind: 'corrupt', seq: 2 } });
    if (!verdict.ok)
      expect(describeBreak(verdict.firstBreak)).toBe('record 2 is unreadable: outcome: invalid');
  });

  it('refuses records of another chain and a chain without its head', () => {
    const records = chainOf(2);
    expect(verifyChain('host#other', stored(records), headOf(records))).toMatchObject({
      ok: false,
      firstBreak: { kind: 'wrong-chain', seq: 1 },
    });
    expect(verifyChain(CHAIN, stored(records), undefined)).toMatchObject({
      ok: false,
      firstBreak: { kind: 'head-missing', seq: 2 },
    });
  });
});
