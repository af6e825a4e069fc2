/** `rejuv audit export` and `rejuv audit verify`: the compliance trail, and proof it is whole. */
import { once } from 'node:events';
import { auditCsvHeader, auditCsvRow } from '../../shared/domain/audit-csv.js';
import { describeBreak, type ChainVerdict } from '../../shared/domain/audit-chain.js';
import { AuditRecordSchema, hostChainId } from '../../shared/domain/audit-record.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import type { Target } from '../target.js';

/** Streams records to stdout as they are read, so an export of any size runs in constant memory. */
export async function auditExportCommand(
  target: Target,
  options: { host?: string | undefined; since?: string | undefined; format: 'jsonl' | 'csv' },
): Promise<ExitCode> {
  const write = async (line: string): Promise<void> => {
    if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
  };
  if (options.host !== undefined) await target.store.hosts.get(options.host);
  if (options.format === 'csv') await write(auditCsvHeader());
  let count = 0;
  for await (const line of target.store.audit.exportJsonLines({
    ...(options.host === undefined ? {} : { chainId: hostChainId(options.host) }),
    ...(options.since === undefined ? {} : { since: new Date(options.since).toISOString() }),
  })) {
    await write(options.format === 'csv' ? auditCsvRow(AuditRecordSchema.parse(JSON.parse(line))) : line);
    count += 1;
  }
  // stdout is the export itself, whatever the mode.
  process.stderr.write(`exported ${count} audit records\n`);
  return EXIT.ok;
}

export async function auditVerifyCommand(
  target: Target,
  options: { host?: string | undefined },
  out: Output,
): Promise<ExitCode> {
  if (options.host !== undefined) await target.store.hosts.get(options.host);
  const chains =
    options.host === undefined ? await target.store.audit.chainIds() : [hostChainId(options.host)];
  const verdicts: ChainVerdict[] = [];
  for (const chainId of chains) verdicts.push(await target.store.audit.verify(chainId));
  const verified = verdicts.every((v) => v.ok);
  out.result(
    {
      verified,
      chains: verdicts.map((v) => (v.ok ? v : { ...v, description: describeBreak(v.firstBreak) })),
    },
    () =>
      [
        table(
          ['CHAIN', 'RECORDS', 'VERDICT'],
          verdicts.map((v) => [
            v.chainId,
            String(v.length),
            v.ok ? 'intact' : `BROKEN: ${describeBreak(v.firstBreak)}`,
          ]),
        ),
        verified
          ? `${verdicts.length} chain(s) verified`
          : `${verdicts.filter((v) => !v.ok).length} of ${verdicts.length} chain(s) broken`,
      ].join('\n'),
  );
  return verified ? EXIT.ok : EXIT.auditBroken;
}
