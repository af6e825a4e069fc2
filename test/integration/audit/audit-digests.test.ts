/**
 * The signed digests against an insider with full write access to the audit table and the project's own
 * hash functions: every forgery is made with direct DynamoDB writes, re-hashed so each chain still links,
 * and must be named by host and record. Digests are signed by the local KMS and kept in the local S3 with
 * Object Lock, through the real SDK clients.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAuditBundle, writeAuditBundle } from '../../../shared/audit/audit-bundle.js';
import { gatherTrailEvidence, verifyLiveAuditTrail } from '../../../shared/audit/verify-audit-trail.js';
import { sealAuditDigest, type SealDeps } from '../../../shared/audit/seal-audit-digest.js';
import { KmsDigestSigner } from '../../../shared/adapters/kms/kms-digest-signer.js';
import { S3DigestStore } from '../../../shared/adapters/s3/s3-digest-store.js';
import { digestKey } from '../../../shared/domain/audit-digest.js';
import { describeFinding, verifyAuditTrail } from '../../../shared/domain/audit-digest-verification.js';
import { hostChainId, sealRecord, type AuditRecord } from '../../../shared/domain/audit-record.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { localKmsClient, startLocalKmsEndpoint, type RunningLocalKms } from '../../../local/kms-endpoint.js';
import { localS3Client, startLocalS3Endpoint, type RunningLocalS3 } from '../../../local/s3-endpoint.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';

const ARNS = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };
const MINUTE = 60_000;
/** The deployed default: the sealer runs every 15 minutes. */
const SEAL_INTERVAL_MS = 15 * MINUTE;
const H1 = hostChainId('h1');
const H2 = hostChainId('h2');

let kms: RunningLocalKms;
let s3: RunningLocalS3;
let keyArn: string;
let clock: ManualClock;
let t: TestTables;
let deps: SealDeps;
let bucketCount = 0;
let bucket: string;

beforeAll(async () => {
  kms = await startLocalKmsEndpoint({ arns: ARNS });
  keyArn = kms.createSigningKey('audit-key').arn;
});

afterAll(async () => {
  await kms.stop();
  await s3.stop();
});

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  await s3?.stop();
  s3 = await startLocalS3Endpoint({ clock });
  bucket = `digests-${++bucketCount}`;
  s3.createBucket(bucket);
  t = await freshTables();
  const signer = new KmsDigestSigner(localKmsClient(kms.endpoint), keyArn);
  deps = {
    audit: t.store(clock).audit,
    digests: new S3DigestStore(localS3Client(s3.endpoint), bucket),
    signer,
    clock,
    retentionDays: 30,
  };
  // Two hosts, two digests: h1 has 5 records (3 sealed by digest 1, 2 by digest 2), h2 has 2.
  await appendEvents(H1, 3);
  await appendEvents(H2, 2);
  clock.advance(15 * MINUTE);
  expect(await sealAuditDigest(deps)).toMatchObject({ sealed: true, seq: 1, records: 5 });
  await appendEvents(H1, 2);
  clock.advance(15 * MINUTE);
  expect(await sealAuditDigest(deps)).toMatchObject({ sealed: true, seq: 2, records: 2 });
});

async function appendEvents(chainId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    clock.advance(1000);
    await deps.audit.append(chainId, {
      eventId: `exec-1:${chainId}:${clock.nowMs()}`,
      at: new Date(clock.nowMs()).toISOString(),
      principal: 'arn:aws:sts::000000000000:assumed-role/AdvanceRole/s',
      trigger: 'operator',
      step: 'Drain',
      outcome: 'succeeded',
      executionId: 'exec-1',
    });
  }
}

/** Verification as the CLI runs it: as of the clock, by the deployed seal interval. */
async function verify() {
  const verdict = await verifyLiveAuditTrail(deps.audit, deps.digests, await deps.signer.publicKeyPem(), {
    now: new Date(clock.nowMs()),
    sealIntervalMs: SEAL_INTERVAL_MS,
  });
  return { ...verdict, described: verdict.findings.map(describeFinding) };
}

async function records(chainId: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of deps.audit.read(chainId)) out.push(r);
  return out;
}

/** What an insider does with DynamoDB write access: the item as the adapter stores it, and the head to match. */
async function writeRaw(record: AuditRecord): Promise<void> {
  await t.documents.send(new PutCommand({ TableName: t.tables.audit, Item: { ...record, kind: 'record' } }));
}

async function writeHead(chainId: string, lastSeq: number, lastHash: string): Promise<void> {
  await t.documents.send(
    new PutCommand({
      TableName: t.tables.audit,
      Item: { chainId, seq: 0, kind: 'head', lastSeq, lastHash },
    }),
  );
}

async function deleteRaw(chainId: string, seq: number): Promise<void> {
  await t.documents.send(new DeleteCommand({ TableName: t.tables.audit, Key: { chainId, seq } }));
}

function reseal(record: AuditRecord, changes: Partial<AuditRecord>): AuditRecord {
  const { hash: _hash, ...rest } = record;
  return sealRecord({ ...rest, ...changes });
}

describe('Use case: sealAuditDigest and the signed digests', () => {
  it('verifies an intact history, and seals nothing when nothing was appended', async () => {
    const verdict = await verify();
    expect(verdict.findings).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.latestDigest?.seq).toBe(2);
    expect(verdict.chains).toEqual([
      { chainId: H1, records: 5, sealedThrough: 5 },
      { chainId: H2, records: 2, sealedThrough: 2 },
    ]);
    expect(await sealAuditDigest(deps)).toEqual({ sealed: false, refused: [] });
  });

  it('names a sealed record edited and re-sealed, with every later record re-hashed to link', async () => {
    const chain = await records(H1);
    let prevHash = chain[0]?.hash ?? '';
    for (const r of chain.slice(1)) {
      const forged = reseal(r, { prevHash, ...(r.seq === 2 ? { outcome: 'failed' as const } : {}) });
      await writeRaw(forged);
      prevHash = forged.hash;
    }
    await writeHead(H1, 5, prevHash);
    const verdict = await verify();
    expect(verdict.ok).toBe(false);
    expect(verdict.findings).toEqual([
      expect.objectContaining({ kind: 'record-altered', chainId: H1, seq: 2 }),
    ]);
    expect(verdict.described[0]).toMatch(/^host h1: record 2 was altered: .*digest 1 sealed/);
    // The sealer will not sign over it either.
    await appendEvents(H2, 1);
    const sealed = await sealAuditDigest(deps);
    expect(sealed).toMatchObject({ sealed: true, seq: 3, refused: [{ chainId: H1, seq: 5 }] });
  });

  it('names a forged append dated before the last digest', async () => {
    const chain = await records(H1);
    const last = chain[chain.length - 1] as AuditRecord;
    const forged = reseal(last, {
      seq: 6,
      prevHash: last.hash,
      eventId: 'exec-0:forged',
      at: new Date(clock.nowMs() - 20 * MINUTE).toISOString(),
    });
    await writeRaw(forged);
    await writeHead(H1, 6, forged.hash);
    const verdict = await verify();
    expect(verdict.findings).toEqual([
      expect.objectContaining({ kind: 'forged-append', chainId: H1, seq: 6 }),
    ]);
    expect(verdict.described[0]).toMatch(/^host h1: record 6 is dated .* before the latest digest/);
  });

  it('names the first record of a truncated tail', async () => {
    const chain = await records(H1);
    await deleteRaw(H1, 5);
    await deleteRaw(H1, 4);
    await writeHead(H1, 3, chain[2]?.hash ?? '');
    const verdict = await verify();
    expect(verdict.findings).toEqual([{ kind: 'truncated', chainId: H1, seq: 4, sealedThrough: 5 }]);
    expect(verdict.described[0]).toBe(
      'host h1: record 4 is missing: the tail was cut (records up to 5 were sealed)',
    );
  });

  it('names a deleted chain', async () => {
    const { Items = [] } = await t.documents.send(
      new QueryCommand({
        TableName: t.tables.audit,
        KeyConditionExpression: 'chainId = :c',
        ExpressionAttributeValues: { ':c': H2 },
      }),
    );
    for (const item of Items) await deleteRaw(H2, Number(item['seq']));
    expect(await deps.audit.chainIds()).toEqual([H1]);
    const verdict = await verify();
    expect(verdict.findings).toEqual([{ kind: 'chain-deleted', chainId: H2, seq: 2 }]);
    expect(verdict.described[0]).toBe('host h2: the chain was deleted (records 1-2 were sealed)');
  });

  it('names a digest missing from the sequence; the locked version itself cannot be deleted', async () => {
    const admin = localS3Client(s3.endpoint);
    // Hiding the key behind a delete marker is all S3 allows; the locked version stays in the bucket.
    await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: digestKey(1) }));
    const verdict = await verify();
    expect(verdict.findings).toEqual([{ kind: 'digest-missing', digestSeq: 1 }]);
    expect(verdict.described[0]).toBe('digest 1 is missing from the sequence');
  });

  it('names the records a newest digest hidden behind a delete marker sealed, once a seal was due', async () => {
    await appendEvents(H2, 1);
    const appendedAt = new Date(clock.nowMs()).toISOString();
    clock.advance(SEAL_INTERVAL_MS);
    expect(await sealAuditDigest(deps)).toMatchObject({ sealed: true, seq: 3, records: 1 });
    // An insider with s3:DeleteObject hides digest 3: the latest version of its key becomes a marker.
    const admin = localS3Client(s3.endpoint);
    const hidden = await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: digestKey(3) }));
    expect(hidden.DeleteMarker).toBe(true);
    // Within interval + grace + margin of the append, a record not yet sealed is normal.
    expect((await verify()).ok).toBe(true);
    clock.advance(20 * MINUTE);
    const verdict = await verify();
    expect(verdict.latestDigest?.seq).toBe(2);
    expect(verdict.findings).toEqual([
      { kind: 'uncovered', chainId: H2, seq: 3, at: appendedAt, afterDigest: 2 },
    ]);
    expect(verdict.described[0]).toBe(
      `host h2: record 3 was appended at ${appendedAt}, not covered by any digest: a digest after digest 2 is missing or hidden, or the sealer has stopped`,
    );
  });

  it('names the first record of every chain when every digest is hidden', async () => {
    const admin = localS3Client(s3.endpoint);
    for (const seq of [1, 2])
      await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: digestKey(seq) }));
    clock.advance(10 * MINUTE); // well past the deadline of every record
    const verdict = await verify();
    expect(verdict.digests).toBe(0);
    expect(verdict.findings).toEqual([
      expect.objectContaining({ kind: 'uncovered', chainId: H1, seq: 1, afterDigest: undefined }),
      expect.objectContaining({ kind: 'uncovered', chainId: H2, seq: 1, afterDigest: undefined }),
    ]);
    expect(verdict.described[0]).toMatch(/^host h1: record 1 was appended at .* and no digest covers it/);
  });

  it('lets exactly one of two concurrent sealers store the next digest', async () => {
    await appendEvents(H2, 1);
    const results = await Promise.all([sealAuditDigest(deps), sealAuditDigest(deps)]);
    expect(results.filter((r) => r.sealed)).toHaveLength(1);
    expect((await verify()).findings).toEqual([]);
  });

  it('verifies an export with only the public key, with rejuv and with the openssl commands of docs/audit.md', async () => {
    const publicKey = await deps.signer.publicKeyPem();
    const dir = join(mkdtempSync(join(tmpdir(), 'audit-export-')), 'audit-bundle');
    writeAuditBundle(
      dir,
      { ...(await gatherTrailEvidence(deps.audit, deps.digests, publicKey)), publicKey },
      { at: new Date(clock.nowMs()), sealIntervalMs: SEAL_INTERVAL_MS },
    );
    // Judged as of its export, by the interval its manifest names, as `rejuv audit verify --bundle` does.
    const verifyBundle = () => {
      const bundle = readAuditBundle(dir);
      return verifyAuditTrail(bundle, {
        now: new Date(bundle.manifest.exportedAt),
        sealIntervalMs: bundle.manifest.sealIntervalSeconds * 1000,
      });
    };
    const script = /<!-- audit-openssl:begin -->\n```bash\n([\s\S]*?)```\n<!-- audit-openssl:end -->/.exec(
      readFileSync(new URL('../../../docs/audit.md', import.meta.url), 'utf8'),
    )?.[1];
    if (script === undefined) throw new Error('docs/audit.md has no openssl verification block');
    const openssl = () => execFileSync('bash', ['-c', script], { cwd: join(dir, '..'), encoding: 'utf8' });
    expect(verifyBundle()).toMatchObject({ ok: true, digests: 2 });
    expect(openssl()).toContain('sealed records missing or altered: 0; records not yet sealed: 0');

    // One sealed record edited in the export: both refuse it.
    const file = join(dir, 'records.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = (lines[1] ?? '').replace('"outcome":"succeeded"', '"outcome":"failed"');
    writeFileSync(file, lines.join('\n'));
    expect(verifyBundle().findings).toEqual([
      expect.objectContaining({ kind: 'record-altered', chainId: H1, seq: 2 }),
    ]);
    let failed: { status?: number; stdout?: string } = {};
    try {
      openssl();
    } catch (error) {
      failed = error as typeof failed;
    }
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('sealed records missing or altered: 1; records not yet sealed: 1');
  });
});
