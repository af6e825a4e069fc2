/**
 * Verification of the audit trail against its signed digests, offline: the digests' signatures are
 * checked with the public key alone (node:crypto), then every record against the hash a digest sealed.
 * Each finding names the chain (so the host) and the record or digest sequence number where it starts.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import {
  AuditDigestSchema,
  digestBody,
  digestSeqOfKey,
  hostOfChain,
  type AuditDigest,
  type SignedDigest,
} from './audit-digest.js';
import type { StoredRecord } from './audit-chain.js';
import { GENESIS_HASH, hashRecord } from './audit-record.js';

/** The AuditDigests construct's default `sealInterval`: what a verifier assumes when nothing says otherwise. */
export const DEFAULT_SEAL_INTERVAL_MS = 15 * 60_000;

/** A record dated this long before the latest digest read the chains should have been sealed by it. */
export const DEFAULT_SEAL_GRACE_MS = 5 * 60_000;

/**
 * Slack beyond interval + grace before an uncovered record is a finding: the sealer's Lambda timeout
 * (5 minutes: a seal that read the chains may take that long to store its digest), plus 5 minutes for
 * EventBridge to deliver a scheduled seal late and for Lambda's own retries of a failed asynchronous
 * invocation (1, then 2 minutes). A record older than that with no digest covering it was sealed by a
 * digest the verifier cannot see, or the sealer has stopped; both are worth a finding.
 */
export const SEAL_RUN_MARGIN_MS = 10 * 60_000;

/**
 * When verification runs and how often the sealer runs: what says a record must be covered by now.
 * Offline data only: the verifier's clock (or a bundle's export time) and the deployed seal interval.
 */
export interface SealSchedule {
  /** The verifier's clock, or when a bundle was exported: the trail is judged as of then. */
  readonly now: Date;
  /** Time between two scheduled seals (the AuditDigests construct's `sealInterval`). */
  readonly sealIntervalMs: number;
  /** @default DEFAULT_SEAL_GRACE_MS */
  readonly sealGraceMs?: number;
}

/** Records dated before this must be covered by a digest the verifier sees. */
export function coverageDeadline(schedule: SealSchedule): number {
  return (
    schedule.now.getTime() -
    schedule.sealIntervalMs -
    (schedule.sealGraceMs ?? DEFAULT_SEAL_GRACE_MS) -
    SEAL_RUN_MARGIN_MS
  );
}

export type AuditFinding =
  | { readonly kind: 'digest-unreadable'; readonly key: string; readonly detail: string }
  | { readonly kind: 'digest-signature-invalid'; readonly digestSeq: number; readonly key: string }
  | { readonly kind: 'digest-missing'; readonly digestSeq: number }
  | { readonly kind: 'digest-link-broken'; readonly digestSeq: number }
  | { readonly kind: 'chain-deleted'; readonly chainId: string; readonly seq: number }
  | {
      readonly kind: 'truncated';
      readonly chainId: string;
      readonly seq: number;
      readonly sealedThrough: number;
    }
  | { readonly kind: 'record-missing'; readonly chainId: string; readonly seq: number }
  | {
      readonly kind: 'record-altered';
      readonly chainId: string;
      readonly seq: number;
      readonly detail: string;
    }
  | { readonly kind: 'link-broken'; readonly chainId: string; readonly seq: number }
  | { readonly kind: 'forged-append'; readonly chainId: string; readonly seq: number; readonly at: string }
  | {
      readonly kind: 'uncovered';
      readonly chainId: string;
      readonly seq: number;
      readonly at: string;
      /** The latest digest the verifier sees; undefined when it sees none. */
      readonly afterDigest: number | undefined;
    };

export interface ChainSummary {
  readonly chainId: string;
  readonly records: number;
  /** Records 1..sealedThrough are sealed by a signed digest. */
  readonly sealedThrough: number;
}

export interface TrailVerdict {
  readonly ok: boolean;
  readonly digests: number;
  readonly latestDigest: { readonly seq: number; readonly windowEnd: string } | undefined;
  readonly chains: readonly ChainSummary[];
  readonly findings: readonly AuditFinding[];
}

export interface TrailEvidence {
  readonly digests: readonly SignedDigest[];
  /** The signing key's public half: PEM (SPKI) or a KeyObject. */
  readonly publicKey: string | KeyObject;
  /** Every chain's records as stored, by chain id, in any order. */
  readonly chains: ReadonlyMap<string, readonly StoredRecord[]>;
  /**
   * Verify only these chains (one host's); the digests are checked in full either way.
   * @default every chain the records or the digests name
   */
  readonly onlyChains?: ReadonlySet<string>;
}

/**
 * Digests can be hidden without being deleted (a delete marker hides a locked version), so the trail is
 * also judged against the schedule: a record old enough that a seal must have run since, yet covered by no
 * digest in sight, is a finding, as is every such record when no digest is in sight at all.
 */
export function verifyAuditTrail(evidence: TrailEvidence, schedule: SealSchedule): TrailVerdict {
  const findings: AuditFinding[] = [];
  const signed = checkDigests(evidence.digests, evidence.publicKey, findings);
  const latest = signed[signed.length - 1];

  // What the signed digests pin: each record's hash, and how far each chain was sealed.
  const pins = new Map<string, Map<number, { hash: string; digestSeq: number }>>();
  const sealedThrough = new Map<string, number>();
  for (const { digest } of signed) {
    for (const c of digest.changed) {
      const chain = pins.get(c.chainId) ?? new Map<number, { hash: string; digestSeq: number }>();
      c.recordHashes.forEach((hash, i) => chain.set(c.fromSeq + i, { hash, digestSeq: digest.seq }));
      pins.set(c.chainId, chain);
      sealedThrough.set(
        c.chainId,
        Math.max(sealedThrough.get(c.chainId) ?? 0, c.fromSeq + c.recordHashes.length - 1),
      );
    }
    for (const h of digest.heads)
      sealedThrough.set(h.chainId, Math.max(sealedThrough.get(h.chainId) ?? 0, h.headSeq));
  }

  const backdatedBefore =
    latest === undefined
      ? undefined
      : Date.parse(latest.digest.windowEnd) - (schedule.sealGraceMs ?? DEFAULT_SEAL_GRACE_MS);
  const coverage = { before: coverageDeadline(schedule), latestDigest: latest?.digest.seq };
  const chainIds = [...new Set([...evidence.chains.keys(), ...sealedThrough.keys()])]
    .filter((id) => evidence.onlyChains?.has(id) ?? true)
    .sort();
  const chains: ChainSummary[] = [];
  for (const chainId of chainIds) {
    const records = [...(evidence.chains.get(chainId) ?? [])].sort((a, b) => a.seq - b.seq);
    const sealed = sealedThrough.get(chainId) ?? 0;
    chains.push({ chainId, records: records.length, sealedThrough: sealed });
    const finding = checkChain(
      chainId,
      records,
      sealed,
      pins.get(chainId) ?? new Map(),
      backdatedBefore,
      coverage,
    );
    if (finding !== undefined) findings.push(finding);
  }
  return {
    ok: findings.length === 0,
    digests: signed.length,
    latestDigest:
      latest === undefined ? undefined : { seq: latest.digest.seq, windowEnd: latest.digest.windowEnd },
    chains,
    findings,
  };
}

/** The digests whose signature holds, in sequence order; every gap, bad signature or broken link reported. */
function checkDigests(
  digests: readonly SignedDigest[],
  publicKey: string | KeyObject,
  findings: AuditFinding[],
): { key: string; signature: string; digest: AuditDigest }[] {
  const valid: { key: string; signature: string; digest: AuditDigest }[] = [];
  for (const d of digests) {
    const keySeq = digestSeqOfKey(d.key);
    let parsed: AuditDigest;
    try {
      parsed = AuditDigestSchema.parse(JSON.parse(d.body));
    } catch (error) {
      findings.push({
        kind: 'digest-unreadable',
        key: d.key,
        detail: (error as Error).message.slice(0, 300),
      });
      continue;
    }
    if (digestBody(parsed) !== d.body || keySeq !== parsed.seq) {
      findings.push({ kind: 'digest-unreadable', key: d.key, detail: 'not a canonical digest of its key' });
      continue;
    }
    if (!verifySignature('sha256', Buffer.from(d.body, 'utf8'), publicKey, d.signature)) {
      findings.push({ kind: 'digest-signature-invalid', digestSeq: parsed.seq, key: d.key });
      continue;
    }
    valid.push({ key: d.key, signature: Buffer.from(d.signature).toString('base64'), digest: parsed });
  }
  valid.sort((a, b) => a.digest.seq - b.digest.seq);
  let expected = 1;
  for (const [i, d] of valid.entries()) {
    for (; expected < d.digest.seq; expected++)
      findings.push({ kind: 'digest-missing', digestSeq: expected });
    expected = d.digest.seq + 1;
    const before = valid[i - 1];
    const link = d.digest.previous;
    const linked =
      d.digest.seq === 1
        ? link === null
        : before === undefined || before.digest.seq !== d.digest.seq - 1
          ? true // the gap is already reported as a missing digest
          : link !== null &&
            link.seq === before.digest.seq &&
            link.key === before.key &&
            link.signature === before.signature;
    if (!linked) findings.push({ kind: 'digest-link-broken', digestSeq: d.digest.seq });
  }
  return valid;
}

/** The first thing wrong with one chain, if any. */
function checkChain(
  chainId: string,
  records: readonly StoredRecord[],
  sealed: number,
  pins: ReadonlyMap<number, { hash: string; digestSeq: number }>,
  backdatedBefore: number | undefined,
  coverage: { readonly before: number; readonly latestDigest: number | undefined },
): AuditFinding | undefined {
  if (records.length === 0) return sealed > 0 ? { kind: 'chain-deleted', chainId, seq: sealed } : undefined;
  let expected = 1;
  let prevHash = GENESIS_HASH;
  for (const entry of records) {
    if (entry.seq !== expected) return { kind: 'record-missing', chainId, seq: expected };
    if ('corrupt' in entry)
      return {
        kind: 'record-altered',
        chainId,
        seq: entry.seq,
        detail: `unreadable: ${entry.corrupt.join('; ')}`,
      };
    const { hash, ...unsealed } = entry.record;
    if (entry.record.chainId !== chainId || hashRecord(unsealed) !== hash)
      return {
        kind: 'record-altered',
        chainId,
        seq: entry.seq,
        detail: 'its content does not match its hash',
      };
    const pin = pins.get(entry.seq);
    if (pin !== undefined && pin.hash !== hash)
      return {
        kind: 'record-altered',
        chainId,
        seq: entry.seq,
        detail: `it is not the record digest ${pin.digestSeq} sealed (rewritten and re-hashed)`,
      };
    if (entry.record.prevHash !== prevHash) return { kind: 'link-broken', chainId, seq: entry.seq };
    if (entry.seq > sealed && backdatedBefore !== undefined && Date.parse(entry.record.at) < backdatedBefore)
      return { kind: 'forged-append', chainId, seq: entry.seq, at: entry.record.at };
    if (entry.seq > sealed && Date.parse(entry.record.at) < coverage.before)
      return {
        kind: 'uncovered',
        chainId,
        seq: entry.seq,
        at: entry.record.at,
        afterDigest: coverage.latestDigest,
      };
    prevHash = hash;
    expected += 1;
  }
  if (expected - 1 < sealed) return { kind: 'truncated', chainId, seq: expected, sealedThrough: sealed };
  return undefined;
}

/**
 * SHA-256 of the key's DER (SPKI) encoding, hex: what an auditor compares with the key they hold,
 * `openssl pkey -pubin -in public-key.pem -outform DER | openssl dgst -sha256`. Throws on a bad key.
 */
export function publicKeyFingerprint(publicKey: string | KeyObject): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export function describeFinding(f: AuditFinding): string {
  switch (f.kind) {
    case 'digest-unreadable':
      return `digest ${f.key} is unreadable: ${f.detail}`;
    case 'digest-signature-invalid':
      return `digest ${f.digestSeq} (${f.key}) is not signed by the audit key`;
    case 'digest-missing':
      return `digest ${f.digestSeq} is missing from the sequence`;
    case 'digest-link-broken':
      return `digest ${f.digestSeq} does not name digest ${f.digestSeq - 1} and its signature`;
    case 'chain-deleted':
      return `host ${hostOfChain(f.chainId)}: the chain was deleted (records 1-${f.seq} were sealed)`;
    case 'truncated':
      return `host ${hostOfChain(f.chainId)}: record ${f.seq} is missing: the tail was cut (records up to ${f.sealedThrough} were sealed)`;
    case 'record-missing':
      return `host ${hostOfChain(f.chainId)}: record ${f.seq} is missing`;
    case 'record-altered':
      return `host ${hostOfChain(f.chainId)}: record ${f.seq} was altered: ${f.detail}`;
    case 'link-broken':
      return `host ${hostOfChain(f.chainId)}: record ${f.seq} does not link to record ${f.seq - 1}`;
    case 'forged-append':
      return `host ${hostOfChain(f.chainId)}: record ${f.seq} is dated ${f.at}, before the latest digest, which does not seal it (appended behind the coordinator's back)`;
    case 'uncovered':
      return f.afterDigest === undefined
        ? `host ${hostOfChain(f.chainId)}: record ${f.seq} was appended at ${f.at} and no digest covers it: every digest is missing or hidden, or the sealer never ran`
        : `host ${hostOfChain(f.chainId)}: record ${f.seq} was appended at ${f.at}, not covered by any digest: a digest after digest ${f.afterDigest} is missing or hidden, or the sealer has stopped`;
  }
}
