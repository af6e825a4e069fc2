import { describe, expect, it } from 'vitest';
import { auditCsvHeader, auditCsvRow, csvCell } from '../../../shared/domain/audit-csv.js';
import { GENESIS_HASH, sealRecord } from '../../../shared/domain/audit-record.js';

const record = sealRecord({
  chainId: 'host#h-1',
  seq: 1,
  prevHash: GENESIS_HASH,
  eventId: 'e-1',
  at: '2026-11-25T10:00:00.000Z',
  principal: 'alice@example.com',
  trigger: 'operator',
  step: 'Admit',
  outcome: 'succeeded',
  reason: 'say "hi", then\nleave',
  detail: { pool: 'web', slots: 2 },
});

/** A minimal RFC 4180 reader, to check the writer round-trips. */
function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

describe('Audit CSV', () => {
  it('writes one cell per column, quoting commas, quotes and newlines so they round-trip', () => {
    const header = auditCsvHeader().split(',');
    const cells = parseCsvLine(auditCsvRow(record));
    expect(cells).toHaveLength(header.length);
    const byColumn = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
    expect(byColumn).toMatchObject({
      chainId: 'host#h-1',
      seq: '1',
      reason: 'say "hi", then\nleave',
      detail: '{"pool":"web","slots":2}',
      executionId: '',
      hash: record.hash,
    });
  });

  it('defuses cells a spreadsheet would evaluate as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1')).toBe(`'+1`);
    expect(csvCell('@SUM(A1)')).toBe(`'@SUM(A1)`);
    expect(csvCell('plain')).toBe('plain');
  });
});
