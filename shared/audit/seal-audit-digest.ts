/**
 * Seals the audit trail: reads what each chain appended since the latest digest, signs a new digest of it
 * with the KMS key and stores it, write-once, under the next sequence number. Run on a schedule and when
 * an execution ends. Concurrent sealers cannot fork the digest chain: only one can store a sequence
 * number (S3 If-None-Match), and the loser starts over from the digest the winner stored.
 */
import type { ChainTail, RefusedChain } from '../domain/audit-digest-plan.js';
import { planNextDigest, type PreviousDigest } from '../domain/audit-digest-plan.js';
import { AuditDigestSchema, digestBody, digestKey, type SignedDigest } from '../domain/audit-digest.js';
import type { StoredRecord } from '../domain/audit-chain.js';
import type { Clock } from '../domain/clock.js';
import { DigestSequenceTakenError } from '../domain/errors.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { DigestSigner } from '../ports/digest-signer.js';
import type { DigestStore } from '../ports/digest-store.js';

export interface SealDeps {
  readonly audit: AuditLog;
  readonly digests: DigestStore;
  readonly signer: DigestSigner;
  readonly clock: Clock;
  /** How long each digest is locked (COMPLIANCE) in the store. */
  readonly retentionDays: number;
}

export type SealResult =
  | { readonly sealed: false; readonly refused: readonly RefusedChain[] }
  | {
      readonly sealed: true;
      readonly key: string;
      readonly seq: number;
      readonly chains: number;
      readonly records: number;
      /** Chains not sealed because what an earlier digest sealed was rewritten, cut or deleted. */
      readonly refused: readonly RefusedChain[];
    };

const MAX_ATTEMPTS = 5;

export async function sealAuditDigest(deps: SealDeps): Promise<SealResult> {
  for (let attempt = 1; ; attempt++) {
    const previous = previousDigest(await deps.digests.latest());
    const tails = await chainTails(deps.audit, previous);
    const { digest, refused } = planNextDigest(previous, tails, {
      now: new Date(deps.clock.nowMs()),
      keyId: deps.signer.keyId,
    });
    if (digest === undefined) return { sealed: false, refused };
    const body = digestBody(digest);
    const signed: SignedDigest = {
      key: digestKey(digest.seq),
      body,
      signature: await deps.signer.sign(Buffer.from(body, 'utf8')),
    };
    try {
      await deps.digests.putNew(signed, new Date(deps.clock.nowMs() + deps.retentionDays * 86_400_000));
    } catch (error) {
      if (error instanceof DigestSequenceTakenError && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
    return {
      sealed: true,
      key: signed.key,
      seq: digest.seq,
      chains: digest.changed.length,
      records: digest.changed.reduce((n, c) => n + c.recordHashes.length, 0),
      refused,
    };
  }
}

/** The latest digest as the next one must name it; a digest that does not parse stops sealing. */
function previousDigest(latest: SignedDigest | undefined): PreviousDigest | undefined {
  if (latest === undefined) return undefined;
  return {
    key: latest.key,
    signature: Buffer.from(latest.signature).toString('base64'),
    digest: AuditDigestSchema.parse(JSON.parse(latest.body)),
  };
}

/** Each chain from its last sealed record on: the chains the log holds, and those sealed before. */
async function chainTails(audit: AuditLog, previous: PreviousDigest | undefined): Promise<ChainTail[]> {
  const sealedHeads = new Map((previous?.digest.heads ?? []).map((h) => [h.chainId, h.headSeq] as const));
  const chainIds = new Set([...(await audit.chainIds()), ...sealedHeads.keys()]);
  const tails: ChainTail[] = [];
  for (const chainId of chainIds) {
    const records: StoredRecord[] = [];
    for await (const r of audit.readStored(chainId, sealedHeads.get(chainId) ?? 1)) records.push(r);
    tails.push({ chainId, records });
  }
  return tails;
}
