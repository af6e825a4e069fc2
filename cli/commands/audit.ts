/**
 * `rejuv audit export` and `rejuv audit verify`: the compliance trail, and proof it is whole: every hash
 * chain recomputed, and every record checked against the signed digests with the key's public half alone.
 */
import { createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { readAuditBundle, writeAuditBundle, type AuditBundle } from '../../shared/audit/audit-bundle.js';
import { gatherTrailEvidence } from '../../shared/audit/verify-audit-trail.js';
import { auditCsvHeader, auditCsvRow } from '../../shared/domain/audit-csv.js';
import { describeBreak, type ChainVerdict } from '../../shared/domain/audit-chain.js';
import { hostOfChain } from '../../shared/domain/audit-digest.js';
import {
  describeFinding,
  publicKeyFingerprint,
  verifyAuditTrail,
  type AuditFinding,
  type SealSchedule,
  type TrailVerdict,
} from '../../shared/domain/audit-digest-verification.js';
import { AuditRecordSchema, hostChainId } from '../../shared/domain/audit-record.js';
import { AuditBundleUnreadableError } from '../../shared/domain/errors.js';
import type { AuditExportOptions, AuditVerifyOptions } from '../cli-options.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import type { Target } from '../target.js';

export async function auditExportCommand(
  target: Target,
  options: AuditExportOptions,
  out: Output,
): Promise<ExitCode> {
  if (options.bundle !== undefined) return exportBundle(target, options.bundle, out);
  return exportToStdout(target, options, options.format ?? 'jsonl');
}

/** Streams records to stdout as they are read, so an export of any size runs in constant memory. */
async function exportToStdout(
  target: Target,
  options: { host?: string | undefined; since?: string | undefined },
  format: 'jsonl' | 'csv',
): Promise<ExitCode> {
  const write = async (line: string): Promise<void> => {
    if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
  };
  if (options.host !== undefined) await requireKnownHost(target, options.host);
  if (format === 'csv') await write(auditCsvHeader());
  let count = 0;
  for await (const line of target.store.audit.exportJsonLines({
    ...(options.host === undefined ? {} : { chainId: hostChainId(options.host) }),
    ...(options.since === undefined ? {} : { since: new Date(options.since).toISOString() }),
  })) {
    await write(format === 'csv' ? auditCsvRow(AuditRecordSchema.parse(JSON.parse(line))) : line);
    count += 1;
  }
  // stdout is the export itself, whatever the mode.
  process.stderr.write(`exported ${count} audit records\n`);
  return EXIT.ok;
}

/** The whole trail, the signed digests and the public key, for `audit verify --bundle` or openssl alone. */
async function exportBundle(target: Target, dir: string, out: Output): Promise<ExitCode> {
  refuseNonEmptyDirectory(dir);
  const publicKey = await target.auditDigests.publicKeyPem();
  const evidence = await gatherTrailEvidence(target.store.audit, target.auditDigests.store, publicKey);
  writeAuditBundle(
    dir,
    { ...evidence, publicKey },
    { at: new Date(), sealIntervalMs: target.auditDigests.sealIntervalMs },
  );
  const records = [...evidence.chains.values()].reduce(
    (n, c) => n + c.filter((r) => 'record' in r).length,
    0,
  );
  const unreadable = [...evidence.chains.values()].reduce(
    (n, c) => n + c.filter((r) => 'corrupt' in r).length,
    0,
  );
  const latest = evidence.digests[evidence.digests.length - 1];
  const fingerprint = publicKeyFingerprint(publicKey);
  out.result(
    {
      bundle: dir,
      chains: evidence.chains.size,
      records,
      unreadableRecords: unreadable,
      digests: evidence.digests.length,
      latestDigestKey: latest?.key ?? null,
      keyArn: target.auditDigests.keyArn,
      publicKeySha256: fingerprint,
    },
    () =>
      [
        `wrote ${records} record(s) of ${evidence.chains.size} chain(s), ${evidence.digests.length} signed digest(s) and the public key to ${dir}`,
        ...(unreadable > 0
          ? [
              `${unreadable} record(s) could not be read and are not in the bundle: verification will name them`,
            ]
          : []),
        `public key sha256 ${fingerprint} (${target.auditDigests.keyArn})`,
        `verify it with \`rejuv audit verify --bundle ${dir}\`, or with openssl alone (docs/audit.md)`,
      ].join('\n'),
  );
  return EXIT.ok;
}

/** A bundle goes into a new or empty directory: a file left from another export would be read as evidence. */
function refuseNonEmptyDirectory(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new CliError(
      `bundle ${dir}: not a directory that can be written (${code ?? 'unknown'})`,
      EXIT.usage,
    );
  }
  if (entries.length > 0)
    throw new CliError(`bundle ${dir}: the directory is not empty; name a new one`, EXIT.usage);
}

type KeySource = 'kms' | 'file' | 'bundle';

/** Live verification: the hash chains as the store holds them, and the signed digests in the bucket. */
export async function auditVerifyCommand(
  target: Target,
  options: AuditVerifyOptions,
  out: Output,
): Promise<ExitCode> {
  // The auditor's key file is an argument: checked before anything is read.
  const keyFile = options.publicKey === undefined ? undefined : readPublicKeyFile(options.publicKey);
  if (options.host !== undefined) await requireKnownHost(target, options.host);
  const chainIds =
    options.host === undefined ? await target.store.audit.chainIds() : [hostChainId(options.host)];
  const hashChains: ChainVerdict[] = [];
  for (const chainId of chainIds) hashChains.push(await target.store.audit.verify(chainId));
  // One KMS call at most, for the public key; everything after it is offline.
  const key =
    keyFile === undefined
      ? { pem: await target.auditDigests.publicKeyPem(), source: 'kms' as const }
      : { pem: keyFile, source: 'file' as const };
  const evidence = await gatherTrailEvidence(
    target.store.audit,
    target.auditDigests.store,
    key.pem,
    options.host === undefined ? {} : { onlyChains: chainIds },
  );
  // Judged as of now, by the deployed seal interval: a hidden newest digest leaves records overdue.
  const schedule: SealSchedule = {
    now: new Date(),
    sealIntervalMs: sealIntervalMsOf(options) ?? target.auditDigests.sealIntervalMs,
  };
  return report(verifyAuditTrail(evidence, schedule), hashChains, key, out);
}

/** Verification of an exported bundle: files only, no AWS call at all. */
export function auditVerifyBundleCommand(
  options: AuditVerifyOptions & { bundle: string },
  out: Output,
): ExitCode {
  let evidence: AuditBundle;
  try {
    evidence = readAuditBundle(options.bundle);
  } catch (error) {
    if (error instanceof AuditBundleUnreadableError)
      throw new CliError(`the bundle is damaged: ${error.message}`, EXIT.auditBroken, { cause: error });
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR')
      throw new CliError(
        `bundle ${options.bundle}: ${e.path ?? 'a file'} is missing; is it a directory \`rejuv audit export --bundle\` wrote?`,
        EXIT.usage,
        { cause: error },
      );
    throw error;
  }
  const key =
    options.publicKey === undefined
      ? { pem: String(evidence.publicKey), source: 'bundle' as const }
      : { pem: readPublicKeyFile(options.publicKey), source: 'file' as const };
  try {
    createPublicKey(key.pem);
  } catch {
    throw new CliError('the bundle is damaged: public-key.pem is not a PEM public key', EXIT.auditBroken);
  }
  // As of the export: a record appended shortly before it was not yet due a digest.
  const verdict = verifyAuditTrail(
    {
      ...evidence,
      publicKey: key.pem,
      ...(options.host === undefined ? {} : { onlyChains: new Set([hostChainId(options.host)]) }),
    },
    {
      now: new Date(evidence.manifest.exportedAt),
      sealIntervalMs: sealIntervalMsOf(options) ?? evidence.manifest.sealIntervalSeconds * 1000,
    },
  );
  return report(verdict, undefined, key, out);
}

function sealIntervalMsOf(options: AuditVerifyOptions): number | undefined {
  return options.sealInterval === undefined ? undefined : options.sealInterval * 60_000;
}

function readPublicKeyFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `public key ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      EXIT.usage,
    );
  }
  try {
    createPublicKey(pem);
  } catch {
    throw new CliError(`public key ${file}: not a PEM public key`, EXIT.usage);
  }
  return pem;
}

const KEY_SOURCE_TEXT: Record<KeySource, string> = {
  kms: 'from KMS',
  file: 'given with --public-key',
  bundle: "the bundle's own: compare it with the key you hold, or pass --public-key",
};

interface ChainReport {
  readonly chainId: string;
  readonly host: string;
  readonly ok: boolean;
  readonly length: number;
  readonly sealedThrough: number;
  readonly description?: string;
}

/**
 * One verdict from both checks: a chain is intact only if it links and matches what the digests sealed.
 * `hashChains` is undefined for a bundle, which holds no chain heads: the digests stand in for them.
 */
function report(
  verdict: TrailVerdict,
  hashChains: readonly ChainVerdict[] | undefined,
  key: { readonly pem: string; readonly source: KeySource },
  out: Output,
): ExitCode {
  const chainIds = [
    ...new Set([...(hashChains ?? []).map((c) => c.chainId), ...verdict.chains.map((c) => c.chainId)]),
  ].sort();
  const chains = chainIds.map((chainId) => {
    const hash = hashChains?.find((c) => c.chainId === chainId);
    const summary = verdict.chains.find((c) => c.chainId === chainId);
    const finding = verdict.findings.find((f) => 'chainId' in f && f.chainId === chainId);
    const description =
      hash !== undefined && !hash.ok
        ? describeBreak(hash.firstBreak)
        : finding === undefined
          ? undefined
          : withoutHost(describeFinding(finding));
    return {
      ...hash,
      chainId,
      host: hostOfChain(chainId),
      ok: description === undefined,
      length: hash?.length ?? summary?.records ?? 0,
      sealedThrough: summary?.sealedThrough ?? 0,
      ...(description === undefined ? {} : { description }),
    } satisfies ChainReport;
  });
  const verified = verdict.ok && chains.every((c) => c.ok);
  const fingerprint = publicKeyFingerprint(key.pem);
  out.result(
    {
      verified,
      chains,
      digests: {
        count: verdict.digests,
        latest: verdict.latestDigest ?? null,
        publicKey: { source: key.source, sha256: fingerprint },
      },
      findings: verdict.findings.map((f) => ({
        ...f,
        ...('chainId' in f ? { host: hostOfChain(f.chainId) } : {}),
        description: describeFinding(f),
      })),
    },
    () =>
      [
        table(
          ['CHAIN', 'RECORDS', 'VERDICT'],
          chains.map((c) => [c.chainId, String(c.length), chainVerdictText(c)]),
        ),
        verdict.latestDigest === undefined
          ? `signed digests: none valid yet, so nothing is sealed (the sealer runs on a schedule and when an execution ends)`
          : `signed digests: ${verdict.digests}, the latest ${verdict.latestDigest.seq} sealed the trail at ${verdict.latestDigest.windowEnd}`,
        `public key sha256 ${fingerprint} (${KEY_SOURCE_TEXT[key.source]})`,
        ...verdict.findings.map(describeFinding),
        verified
          ? `${chains.length} chain(s) verified against ${verdict.digests} signed digest(s)`
          : `BROKEN: ${chains.filter((c) => !c.ok).length} of ${chains.length} chain(s), ${verdict.findings.filter(isDigestFinding).length} digest finding(s)`,
      ].join('\n'),
  );
  return verified ? EXIT.ok : EXIT.auditBroken;
}

function chainVerdictText(c: ChainReport): string {
  if (c.description !== undefined) return `BROKEN: ${c.description}`;
  if (c.sealedThrough === 0) return 'intact, not yet sealed';
  return c.sealedThrough >= c.length
    ? `intact, sealed through ${c.sealedThrough}`
    : `intact, sealed through ${c.sealedThrough} (${c.length - c.sealedThrough} not yet)`;
}

/** The table's row names the chain already. */
function withoutHost(description: string): string {
  return description.replace(/^host [^:]+: /, '');
}

function isDigestFinding(f: AuditFinding): boolean {
  return !('chainId' in f);
}

/**
 * A host whose chain has records, or that is registered (its chain may have been deleted: verify says
 * so). A deregistered host keeps its chain, and its trail stays exportable; anything else is exit 4.
 */
async function requireKnownHost(target: Target, hostId: string): Promise<void> {
  if ((await target.store.audit.head(hostChainId(hostId))) !== undefined) return;
  await target.store.hosts.get(hostId);
}
