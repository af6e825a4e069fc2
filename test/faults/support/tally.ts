/**
 * What the fault suite counts for its closing line. Every test file appends one JSON line per injected
 * fault or per hostile-input surface to one file; scripts/run-faults.mjs sums them after the run. A file
 * (not memory) because vitest runs test files in separate workers.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const TALLY_FILE = resolve(import.meta.dirname, '..', '..', '..', 'reports', 'faults', 'tally.jsonl');

export interface FaultOutcome {
  /** Which fault, e.g. "QEMU killed during suspend". */
  readonly fault: string;
  /** Every invariant held after it. */
  readonly survived: boolean;
  /** Guests that ended neither running on the host nor named in a quarantine reason. */
  readonly lostGuests: number;
  /** Audit records that went missing (a chain that no longer verifies counts its gap). */
  readonly lostAuditRecords: number;
  /** How the run ended, for the table in the closing note. */
  readonly ending: string;
}

export interface InputOutcome {
  readonly surface: string;
  readonly tried: number;
  readonly rejected: number;
  readonly accepted: number;
}

function append(line: object): void {
  mkdirSync(dirname(TALLY_FILE), { recursive: true });
  appendFileSync(TALLY_FILE, `${JSON.stringify(line)}\n`);
}

export function recordFault(outcome: FaultOutcome): void {
  append({ kind: 'fault', ...outcome });
}

export function recordInputs(outcome: InputOutcome): void {
  append({ kind: 'inputs', ...outcome });
}
