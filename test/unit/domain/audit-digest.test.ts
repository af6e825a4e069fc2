import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../../shared/domain/audit-chain.js';
import { digestBody, digestKey, type SignedDigest } from '../../../shared/domain/audit-digest.js';
import { planNextDigest, type PreviousDigest } from '../../../shared/domain/audit-digest-plan.js';
import {
  DEFAULT_SEAL_GRACE_MS,
  SEAL_RUN_MARGIN_MS,
  describeFinding,
  publicKeyFingerprint,
  verifyAuditTrail,
} from '../../../shared/domain/audit-digest-verification.js';
import { GENESIS_HASH, sealRecord, type AuditRecord } from '../../../shared/domain/audit-record.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const INTERVAL_MS = 15 * MINUTE;
/** Just after the test trail's last seal: nothing in it is overdue. */
const SCHEDULE = { now: new Date(T0 + 181_000), sealIntervalMs: INTERVAL_MS };
/** How old an uncovered record may be before it is a finding. */
const DEADLINE_MS = INTERVAL_MS + DEFAULT_SEAL_GRACE_MS + SEAL_RUN_MARGIN_MS;

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the test trail has no such element');
  return value;
}

function append(chain: AuditRecord[], chainId: string, atMs: number): AuditRecord {
  const last = chain[chain.length - 1];
  const record = sealRecord({
    chainId,
    seq: chain.length + 1,
    prevHash: last?.hash ?? GENESIS_HASH,
    eventId: `e-${chain.length + 1}`,
    at: new Date(atMs).toISOString(),
    principal: 'arn:aws:iam::123456789012:role/ops',
    trigger: 'operator',
    step: 'Drain',
    outcome: 'succeeded',
  });
  chain.push(record);
  return record;
}

const stored = (records: readonly AuditRecord[]): StoredRecord[] =>
  records.map((r) => ({ seq: r.seq, record: r }));

/** Seals what the chains hold now, as the sealer would, and returns the signed digest. */
function seal(chains: Map<string, AuditRecord[]>, digests: SignedDigest[], nowMs: number): SignedDigest {
  const last = digests[digests.length - 1];
  const previous: PreviousDigest | undefined =
    last === undefined
      ? undefined
      : {
          key: last.key,
          signature: Buffer.from(last.signature).toString('base64'),
          digest: JSON.parse(last.body),
        };
  const tails = [...chains].map(([chainId, records]) => {
    const from = previous?.digest.heads.find((h) => h.chainId === chainId)?.headSeq ?? 1;
    return { chainId, records: stored(records.filter((r) => r.seq >= from)) };
  });
  const { digest } = planNextDigest(previous, tails, { now: new Date(nowMs), keyId: 'key-1' });
  if (digest === undefined) throw new Error('nothing to seal');
  const body = digestBody(digest);
  const signed = {
    key: digestKey(digest.seq),
    body,
    signature: sign('sha256', Buffer.from(body), privateKey),
  };
  digests.push(signed);
  return signed;
}

function trail(): { chains: Map<string, AuditRecord[]>; digests: SignedDigest[] } {
  const chains = new Map<string, AuditRecord[]>([
    ['host#a', []],
    ['host#b', []],
  ]);
  const digests: SignedDigest[] = [];
  for (let i = 0; i < 3; i++) append(chains.get('host#a') ?? [], 'host#a', T0 + i * 1000);
  append(chains.get('host#b') ?? [], 'host#b', T0);
  seal(chains, digests, T0 + 60_000);
  for (let i = 0; i < 2; i++) append(chains.get('host#a') ?? [], 'host#a', T0 + 120_000 + i);
  seal(chains, digests, T0 + 180_000);
  return { chains, digests };
}

const verify = (
  chains: Map<string, AuditRecord[]>,
  digests: SignedDigest[],
  nowMs = SCHEDULE.now.getTime(),
) =>
  verifyAuditTrail(
    {
      digests,
      publicKey: publicPem,
      chains: new Map([...chains].map(([id, records]) => [id, stored(records)])),
    },
    { now: new Date(nowMs), sealIntervalMs: INTERVAL_MS },
  );

describe('Function: planNextDigest', () => {
  it('seals only the chains that grew, links the previous digest, and keeps every head', () => {
    const { digests } = trail();
    const second = JSON.parse(digests[1]?.body ?? '{}');
    expect(second.changed).toEqual([{ chainId: 'host#a', fromSeq: 4, recordHashes: expect.any(Array) }]);
    expect(second.previous).toEqual({
      seq: 1,
      key: digestKey(1),
      signature: Buffer.from(digests[0]?.signature ?? []).toString('base64'),
    });
    expect(second.heads.map((h: { chainId: string; headSeq: number }) => [h.chainId, h.headSeq])).toEqual([
      ['host#a', 5],
      ['host#b', 1],
    ]);
  });

  it('refuses to seal a chain whose sealed head was rewritten, and seals nothing when nothing grew', () => {
    const { chains, digests } = trail();
    const previous = {
      key: digests[1]?.key ?? '',
      signature: 'AA==',
      digest: JSON.parse(digests[1]?.body ?? ''),
    };
    const a = chains.get('host#a') ?? [];
    const { hash: _hash, ...sealedFive } = must(a[4]);
    const forged = sealRecord({ ...sealedFive, reason: 'edited' });
    const plan = planNextDigest(previous, [{ chainId: 'host#a', records: stored([forged]) }], {
      now: new Date(T0 + 999_000),
      keyId: 'key-1',
    });
    expect(plan.digest).toBeUndefined();
    expect(plan.refused).toEqual([{ chainId: 'host#a', seq: 5, reason: 'sealed record 5 was rewritten' }]);
  });
});

describe('Function: verifyAuditTrail', () => {
  it('verifies only the chains asked for, the digests in full, without reading the others as deleted', () => {
    const { chains, digests } = trail();
    const onlyA = new Map([['host#a', stored(chains.get('host#a') ?? [])]]);
    const verdict = verifyAuditTrail(
      { digests, publicKey: publicPem, chains: onlyA, onlyChains: new Set(['host#a']) },
      SCHEDULE,
    );
    expect(verdict).toMatchObject({
      ok: true,
      chains: [{ chainId: 'host#a', records: 5, sealedThrough: 5 }],
    });
    // Without the restriction, the absent chain b is one a digest sealed: deleted.
    expect(verifyAuditTrail({ digests, publicKey: publicPem, chains: onlyA }, SCHEDULE).findings).toEqual([
      { kind: 'chain-deleted', chainId: 'host#b', seq: 1 },
    ]);
    // A digest finding is reported whatever the chains asked for.
    expect(
      verifyAuditTrail(
        { digests: [must(digests[1])], publicKey: publicPem, chains: onlyA, onlyChains: new Set(['host#a']) },
        SCHEDULE,
      ).findings,
    ).toContainEqual({ kind: 'digest-missing', digestSeq: 1 });
  });

  it('fingerprints the public key as openssl does: SHA-256 of its DER SubjectPublicKeyInfo', () => {
    const der = publicKey.export({ type: 'spki', format: 'der' });
    expect(publicKeyFingerprint(publicPem)).toBe(createHash('sha256').update(der).digest('hex'));
    expect(publicKeyFingerprint(publicKey)).toBe(publicKeyFingerprint(publicPem));
    expect(() => publicKeyFingerprint('not a key')).toThrow();
  });

  it('verifies an intact trail', () => {
    const { chains, digests } = trail();
    const verdict = verify(chains, digests);
    expect(verdict.findings).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.latestDigest?.seq).toBe(2);
  });

  it('names a digest missing from the sequence', () => {
    const { chains, digests } = trail();
    append(chains.get('host#b') ?? [], 'host#b', T0 + 200_000);
    seal(chains, digests, T0 + 240_000);
    append(chains.get('host#b') ?? [], 'host#b', T0 + 250_000);
    seal(chains, digests, T0 + 300_000);
    const verdict = verify(chains, [must(digests[0]), must(digests[1]), must(digests[3])]);
    expect(verdict.findings).toEqual([{ kind: 'digest-missing', digestSeq: 3 }]);
  });

  it('refuses a digest not signed by the key', () => {
    const { chains, digests } = trail();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = {
      ...must(digests[1]),
      signature: sign('sha256', Buffer.from(must(digests[1]).body), other),
    };
    const verdict = verify(chains, [must(digests[0]), forged]);
    expect(verdict.findings[0]).toEqual({
      kind: 'digest-signature-invalid',
      digestSeq: 2,
      key: digestKey(2),
    });
  });

  it('names the record rewritten and re-hashed after it was sealed', () => {
    const { chains, digests } = trail();
    const a = chains.get('host#a') ?? [];
    // Rewrite record 2 and re-seal every record after it, as an insider with the hash function would.
    const rewritten: AuditRecord[] = a.slice(0, 1);
    for (const r of a.slice(1)) {
      const { hash: _h, ...rest } = r;
      rewritten.push(
        sealRecord({
          ...rest,
          prevHash: must(rewritten[rewritten.length - 1]).hash,
          ...(r.seq === 2 ? { reason: 'nothing happened' } : {}),
        }),
      );
    }
    chains.set('host#a', rewritten);
    const verdict = verify(chains, digests);
    expect(verdict.findings).toEqual([
      expect.objectContaining({ kind: 'record-altered', chainId: 'host#a', seq: 2 }),
    ]);
    expect(describeFinding(must(verdict.findings[0]))).toMatch(/^host a: record 2 was altered/);
  });

  describe('records no visible digest covers (digests hidden behind delete markers)', () => {
    it('names the first record of every chain when every digest is hidden', () => {
      const { chains } = trail();
      const verdict = verify(chains, [], T0 + 3 * MINUTE + DEADLINE_MS);
      expect(verdict.ok).toBe(false);
      expect(verdict.findings).toEqual([
        {
          kind: 'uncovered',
          chainId: 'host#a',
          seq: 1,
          at: new Date(T0).toISOString(),
          afterDigest: undefined,
        },
        {
          kind: 'uncovered',
          chainId: 'host#b',
          seq: 1,
          at: new Date(T0).toISOString(),
          afterDigest: undefined,
        },
      ]);
      expect(describeFinding(must(verdict.findings[0]))).toBe(
        `host a: record 1 was appended at ${new Date(T0).toISOString()} and no digest covers it: every digest is missing or hidden, or the sealer never ran`,
      );
    });

    it('names the first record after the last visible digest when the newest digest is hidden', () => {
      const { chains, digests } = trail();
      append(chains.get('host#b') ?? [], 'host#b', T0 + 200_000);
      seal(chains, digests, T0 + 240_000);
      const hidden = [must(digests[0]), must(digests[1])];
      const verdict = verify(chains, hidden, T0 + 200_000 + DEADLINE_MS + 1);
      expect(verdict.findings).toEqual([
        {
          kind: 'uncovered',
          chainId: 'host#b',
          seq: 2,
          at: new Date(T0 + 200_000).toISOString(),
          afterDigest: 2,
        },
      ]);
      expect(describeFinding(must(verdict.findings[0]))).toBe(
        `host b: record 2 was appended at ${new Date(T0 + 200_000).toISOString()}, not covered by any digest: a digest after digest 2 is missing or hidden, or the sealer has stopped`,
      );
      // With every digest in sight, the same trail at the same time is whole.
      expect(verify(chains, digests, T0 + 200_000 + DEADLINE_MS + 1).ok).toBe(true);
    });

    it('leaves a record appended within interval + grace + margin alone: its seal may still be due', () => {
      const { chains, digests } = trail();
      append(chains.get('host#b') ?? [], 'host#b', T0 + 200_000);
      expect(verify(chains, digests, T0 + 200_000 + DEADLINE_MS).findings).toEqual([]);
      expect(verify(chains, digests, T0 + 200_000 + DEADLINE_MS + 1).findings).toEqual([
        expect.objectContaining({ kind: 'uncovered', chainId: 'host#b', seq: 2, afterDigest: 2 }),
      ]);
      // No digest yet, and the records are fresh: a new deployment whose sealer has not run is whole.
      expect(verify(chains, [], T0 + 10 * MINUTE).ok).toBe(true);
    });

    it('judges the deadline by the seal interval it is given', () => {
      const { chains, digests } = trail();
      append(chains.get('host#b') ?? [], 'host#b', T0 + 200_000);
      const now = new Date(T0 + 200_000 + DEADLINE_MS + 1);
      const evidence = {
        digests,
        publicKey: publicPem,
        chains: new Map([...chains].map(([id, records]) => [id, stored(records)])),
      };
      expect(verifyAuditTrail(evidence, { now, sealIntervalMs: 60 * MINUTE }).ok).toBe(true);
    });
  });
});
