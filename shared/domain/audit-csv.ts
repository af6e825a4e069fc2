/**
 * Audit records as CSV (RFC 4180) for reviewers who work in spreadsheets. JSON Lines is the format to
 * verify from: CSV flattens `detail` to JSON text and defuses cells a spreadsheet would run as a
 * formula (OWASP "CSV injection": a leading = + - @ or control character gets a leading apostrophe).
 */
import type { AuditRecord } from './audit-record.js';

export const AUDIT_CSV_COLUMNS = [
  'chainId',
  'seq',
  'at',
  'executionId',
  'trigger',
  'principal',
  'step',
  'outcome',
  'fromState',
  'toState',
  'reason',
  'durationMs',
  'commandId',
  'detail',
  'eventId',
  'prevHash',
  'hash',
] as const satisfies readonly (keyof AuditRecord)[];

export function auditCsvHeader(): string {
  return AUDIT_CSV_COLUMNS.join(',');
}

export function auditCsvRow(record: AuditRecord): string {
  return AUDIT_CSV_COLUMNS.map((column) => {
    const value = record[column];
    if (value === undefined) return '';
    return csvCell(typeof value === 'object' ? JSON.stringify(value) : String(value));
  }).join(',');
}

export function csvCell(text: string): string {
  const defused = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(defused) ? `"${defused.replace(/"/g, '""')}"` : defused;
}
