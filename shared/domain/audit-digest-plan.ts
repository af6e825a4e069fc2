/**
 * What the next digest seals: for each chain, the records appended since the previous digest, provided
 * they still extend what that digest sealed. A chain whose sealed part was rewritten, cut or deleted is
 * not sealed again (its sealed head stays as it was), so a forgery is never signed over.
 */
import {
  DIGEST_FORMAT,
  DIGEST_SIGNING_ALGORITHM,
  type AuditDigest,
  type SealedHead,
  type SealedRecords,
} from './audit-digest.js';
import type { StoredRecord } from './audit-chain.js';
import { GENESIS_HASH, hashRecord } from './audit-record.js';

/** A chain's records from the seq the previous digest sealed last (or from 1), in seq order. */
export interface ChainTail {
  readonly chainId: string;
  readonly records: readonly StoredRecord[];
}

export interface RefusedChain {
  readonly chainId: string;
  readonly seq: number;
  readonly reason: string;
}

export interface DigestPlan {
  /** Undefined when no chain grew: there is nothing to seal. */
  readonly digest: AuditDigest | undefined;
  readonly refused: readonly RefusedChain[];
}

export interface PreviousDigest {
  readonly key: string;
  readonly signature: string;
  readonly digest: AuditDigest;
}

export function planNextDigest(
  previous: PreviousDigest | undefined,
  tails: readonly ChainTail[],
  context: { readonly now: Date; readonly keyId: string },
): DigestPlan {
  const heads = new Map<string, SealedHead>(
    (previous?.digest.heads ?? []).map((h) => [h.chainId, h] as const),
  );
  const changed: SealedRecords[] = [];
  const refused: RefusedChain[] = [];
  for (const tail of [...tails].sort((a, b) => (a.chainId < b.chainId ? -1 : 1))) {
    const outcome = newRecords(heads.get(tail.chainId), tail);
    if ('refused' in outcome) {
      refused.push(outcome.refused);
      continue;
    }
    if (outcome.hashes.length === 0) continue;
    changed.push({ chainId: tail.chainId, fromSeq: outcome.fromSeq, recordHashes: outcome.hashes });
    heads.set(tail.chainId, {
      chainId: tail.chainId,
      headSeq: outcome.fromSeq + outcome.hashes.length - 1,
      headHash: outcome.hashes[outcome.hashes.length - 1] ?? GENESIS_HASH,
    });
  }
  if (changed.length === 0) return { digest: undefined, refused };
  const seq = (previous?.digest.seq ?? 0) + 1;
  return {
    digest: {
      format: DIGEST_FORMAT,
      seq,
      windowStart: previous?.digest.windowEnd ?? null,
      windowEnd: context.now.toISOString(),
      keyId: context.keyId,
      signingAlgorithm: DIGEST_SIGNING_ALGORITHM,
      previous:
        previous === undefined
          ? null
          : { seq: previous.digest.seq, key: previous.key, signature: previous.signature },
      changed,
      heads: [...heads.values()].sort((a, b) => (a.chainId < b.chainId ? -1 : 1)),
    },
    refused,
  };
}

function newRecords(
  sealed: SealedHead | undefined,
  tail: ChainTail,
): { fromSeq: number; hashes: string[] } | { refused: RefusedChain } {
  const refuse = (seq: number, reason: string) => ({ refused: { chainId: tail.chainId, seq, reason } });
  let expectedSeq = sealed?.headSeq ?? 1;
  let prevHash = GENESIS_HASH;
  const hashes: string[] = [];
  for (const entry of tail.records) {
    if (entry.seq !== expectedSeq)
      return refuse(
        expectedSeq,
        sealed !== undefined && expectedSeq === sealed.headSeq
          ? `sealed record ${expectedSeq} is gone`
          : `record ${expectedSeq} is missing`,
      );
    if ('corrupt' in entry) return refuse(entry.seq, `record ${entry.seq} is unreadable`);
    const { hash, ...unsealed } = entry.record;
    if (entry.record.chainId !== tail.chainId || hashRecord(unsealed) !== hash)
      return refuse(entry.seq, `record ${entry.seq} does not match its hash`);
    if (sealed !== undefined && entry.seq === sealed.headSeq) {
      if (hash !== sealed.headHash) return refuse(entry.seq, `sealed record ${entry.seq} was rewritten`);
    } else {
      if (entry.record.prevHash !== prevHash)
        return refuse(entry.seq, `record ${entry.seq} does not link to record ${entry.seq - 1}`);
      hashes.push(hash);
    }
    prevHash = hash;
    expectedSeq += 1;
  }
  if (sealed !== undefined && tail.records.length === 0)
    return refuse(sealed.headSeq, `sealed record ${sealed.headSeq} is gone`);
  return { fromSeq: (sealed?.headSeq ?? 0) + 1, hashes };
}
