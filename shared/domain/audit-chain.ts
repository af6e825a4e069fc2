/** Verification of a hash chain of audit records: recompute every link and name the first broken one. */
import { GENESIS_HASH, hashRecord, type AuditRecord } from './audit-record.js';

/** What the store claims the end of the chain is; lets verification catch a truncated tail. */
export interface ChainHead {
  readonly lastSeq: number;
  readonly lastHash: string;
}

export type ChainBreak =
  | { readonly kind: 'missing'; readonly seq: number }
  | { readonly kind: 'hash-mismatch'; readonly seq: number }
  | { readonly kind: 'prev-link-mismatch'; readonly seq: number }
  | { readonly kind: 'wrong-chain'; readonly seq: number }
  | { readonly kind: 'corrupt'; readonly seq: number; readonly issues: readonly string[] }
  | { readonly kind: 'head-mismatch'; readonly seq: number }
  | { readonly kind: 'head-missing'; readonly seq: number };

export type ChainVerdict =
  | { readonly ok: true; readonly chainId: string; readonly length: number; readonly lastHash: string }
  | {
      readonly ok: false;
      readonly chainId: string;
      readonly length: number;
      readonly firstBreak: ChainBreak;
    };

/** A stored record that may not even parse; verification reports it rather than throwing. */
export type StoredRecord =
  | { readonly seq: number; readonly record: AuditRecord }
  | { readonly seq: number; readonly corrupt: readonly string[] };

/**
 * @param stored records in ascending `seq` order as read from the store
 * @param head the chain head, or undefined when the store has none
 */
export function verifyChain(
  chainId: string,
  stored: readonly StoredRecord[],
  head: ChainHead | undefined,
): ChainVerdict {
  const broken = (firstBreak: ChainBreak): ChainVerdict => ({
    ok: false,
    chainId,
    length: stored.length,
    firstBreak,
  });
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  for (const entry of stored) {
    if (entry.seq !== expectedSeq) return broken({ kind: 'missing', seq: expectedSeq });
    if ('corrupt' in entry) return broken({ kind: 'corrupt', seq: entry.seq, issues: entry.corrupt });
    const { hash, ...unsealed } = entry.record;
    if (entry.record.chainId !== chainId) return broken({ kind: 'wrong-chain', seq: entry.seq });
    if (hashRecord(unsealed) !== hash) return broken({ kind: 'hash-mismatch', seq: entry.seq });
    if (entry.record.prevHash !== prevHash) return broken({ kind: 'prev-link-mismatch', seq: entry.seq });
    prevHash = hash;
    expectedSeq += 1;
  }
  const length = expectedSeq - 1;
  if (head === undefined) {
    if (length > 0) return broken({ kind: 'head-missing', seq: length });
  } else if (head.lastSeq !== length || (length > 0 && head.lastHash !== prevHash)) {
    // The head names a later record than the last one found: the tail was cut off.
    return broken(
      head.lastSeq > length ? { kind: 'missing', seq: length + 1 } : { kind: 'head-mismatch', seq: length },
    );
  }
  return { ok: true, chainId, length, lastHash: prevHash };
}

export function describeBreak(b: ChainBreak): string {
  switch (b.kind) {
    case 'missing':
      return `record ${b.seq} is missing`;
    case 'hash-mismatch':
      return `record ${b.seq} was altered (its hash does not match its content)`;
    case 'prev-link-mismatch':
      return `record ${b.seq} does not link to record ${b.seq - 1} (removed, inserted or reordered)`;
    case 'wrong-chain':
      return `record ${b.seq} belongs to another chain`;
    case 'corrupt':
      return `record ${b.seq} is unreadable: ${b.issues.join('; ')}`;
    case 'head-mismatch':
      return `the chain head does not match record ${b.seq}`;
    case 'head-missing':
      return `the chain head is missing (last record ${b.seq})`;
  }
}
