/**
 * Gathers the evidence for `verifyAuditTrail` from the live stores: every signed digest, and every
 * chain's records, those of chains a digest sealed but the log no longer lists included; or, given
 * `onlyChains`, the records of those chains alone.
 */
import { AuditDigestSchema, type SignedDigest } from '../domain/audit-digest.js';
import type { StoredRecord } from '../domain/audit-chain.js';
import {
  verifyAuditTrail,
  type SealSchedule,
  type TrailEvidence,
  type TrailVerdict,
} from '../domain/audit-digest-verification.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { DigestStore } from '../ports/digest-store.js';

export async function gatherTrailEvidence(
  audit: AuditLog,
  digestStore: DigestStore,
  publicKey: string,
  options: { readonly onlyChains?: readonly string[] } = {},
): Promise<TrailEvidence> {
  const digests: SignedDigest[] = [];
  for await (const d of digestStore.list()) digests.push(d);
  const sealedChains = digests.flatMap((d) => {
    const parsed = AuditDigestSchema.safeParse(safeJson(d.body));
    return parsed.success ? parsed.data.heads.map((h) => h.chainId) : [];
  });
  const chainIds =
    options.onlyChains === undefined
      ? new Set([...(await audit.chainIds()), ...sealedChains])
      : new Set(options.onlyChains);
  const chains = new Map<string, StoredRecord[]>();
  for (const chainId of chainIds) {
    const records: StoredRecord[] = [];
    for await (const r of audit.readStored(chainId)) records.push(r);
    chains.set(chainId, records);
  }
  return {
    digests,
    publicKey,
    chains,
    ...(options.onlyChains === undefined ? {} : { onlyChains: chainIds }),
  };
}

export async function verifyLiveAuditTrail(
  audit: AuditLog,
  digestStore: DigestStore,
  publicKey: string,
  schedule: SealSchedule,
): Promise<TrailVerdict> {
  return verifyAuditTrail(await gatherTrailEvidence(audit, digestStore, publicKey), schedule);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
