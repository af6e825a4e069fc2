/**
 * What the fault suite counts for its closing line. Every test file appends JSON lines to one file:
 * one when a fault is injected, one with its outcome when its test has finished, one per hostile-input
 * surface; scripts/run-faults.mjs sums them after the run. A file (not memory) because vitest runs test
 * files in separate workers.
 *
 * A fault counts as survived only when its invariants held and every assertion of its test passed: the
 * outcome is written from the test's finished hook, so an assertion after the invariant check (or a
 * timeout) that fails makes it lost. An injected fault with no outcome line (a crashed worker) is lost.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { onTestFinished } from 'vitest';
import { TALLY_FILE } from './tally-file.js';

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

/** Verdicts of the faults injected by the running test, by fault; written out when it finishes. */
const pending = new Map<string, Omit<FaultOutcome, 'fault'> | undefined>();

/**
 * Counts `fault` as injected now, and writes its outcome when the running test finishes: survived only
 * if a verdict was given (see `giveVerdict`), it held, and the test passed. Call it where the fault is
 * arranged (the matrix does so first thing in each test, so a test that fails while arranging its
 * fault counts it lost, never unseen), or, for faults that fire on their own, once they fired.
 */
export function injectFault(fault: string): string {
  if (pending.has(fault)) return fault;
  pending.set(fault, undefined);
  append({ kind: 'injected', fault });
  onTestFinished(({ task }) => {
    const verdict = pending.get(fault);
    pending.delete(fault);
    const passed = task.result?.state === 'pass';
    const failure = task.result?.errors?.[0]?.message?.split('\n')[0]?.slice(0, 160);
    append({
      kind: 'fault',
      fault,
      survived: passed && verdict?.survived === true,
      lostGuests: verdict?.lostGuests ?? 0,
      lostAuditRecords: verdict?.lostAuditRecords ?? 0,
      ending: [
        verdict?.ending ?? 'no invariant check reached',
        ...(passed ? [] : [`test failed: ${failure ?? task.result?.state ?? 'unknown'}`]),
      ].join('; '),
    } satisfies FaultOutcome & { kind: string });
  });
  return fault;
}

/** The invariant verdict for a fault of the running test (counted as injected now if it was not yet). */
export function giveVerdict(outcome: FaultOutcome): void {
  const { fault, ...verdict } = outcome;
  injectFault(fault);
  pending.set(fault, verdict);
}

export function recordInputs(outcome: InputOutcome): void {
  append({ kind: 'inputs', ...outcome });
}
