/**
 * An audit export an auditor can verify with openssl alone: the records, each line exactly the bytes its
 * hash covers; every digest as stored with its signature beside it; and the public key. `readAuditBundle`
 * reads one back for the same offline verification the CLI does.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredRecord } from '../domain/audit-chain.js';
import type { SignedDigest } from '../domain/audit-digest.js';
import type { TrailEvidence } from '../domain/audit-digest-verification.js';
import { AuditRecordSchema, canonicalJson, hashRecord } from '../domain/audit-record.js';
import { describeIssues } from '../domain/validation.js';

export function writeAuditBundle(dir: string, evidence: TrailEvidence & { publicKey: string }): void {
  mkdirSync(join(dir, 'digests'), { recursive: true });
  const lines: string[] = [];
  for (const records of evidence.chains.values())
    for (const entry of records)
      if ('record' in entry) {
        const { hash: _hash, ...unsealed } = entry.record;
        lines.push(canonicalJson(unsealed));
      }
  writeFileSync(join(dir, 'records.jsonl'), lines.map((l) => `${l}\n`).join(''));
  for (const d of evidence.digests) {
    const name = d.key.split('/').pop() ?? d.key;
    writeFileSync(join(dir, 'digests', name), d.body);
    writeFileSync(join(dir, 'digests', name.replace(/\.json$/, '.sig')), d.signature);
  }
  writeFileSync(join(dir, 'public-key.pem'), evidence.publicKey);
}

export function readAuditBundle(dir: string): TrailEvidence {
  const chains = new Map<string, StoredRecord[]>();
  for (const line of readFileSync(join(dir, 'records.jsonl'), 'utf8').split('\n')) {
    if (line === '') continue;
    const unsealed = JSON.parse(line) as Record<string, unknown>;
    // The hash is not in the line: it is the SHA-256 of the line, as an auditor recomputes it.
    const parsed = AuditRecordSchema.safeParse({ ...unsealed, hash: hashOfLine(unsealed) });
    const chainId = String(unsealed['chainId']);
    const seq = Number(unsealed['seq']);
    const list = chains.get(chainId) ?? [];
    list.push(parsed.success ? { seq, record: parsed.data } : { seq, corrupt: describeIssues(parsed.error) });
    chains.set(chainId, list);
  }
  const digests: SignedDigest[] = readdirSync(join(dir, 'digests'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      key: `audit-digests/${f}`,
      body: readFileSync(join(dir, 'digests', f), 'utf8'),
      signature: readFileSync(join(dir, 'digests', f.replace(/\.json$/, '.sig'))),
    }));
  return { digests, chains, publicKey: readFileSync(join(dir, 'public-key.pem'), 'utf8') };
}

function hashOfLine(unsealed: Record<string, unknown>): string {
  return hashRecord(unsealed as Parameters<typeof hashRecord>[0]);
}
