/**
 * The host lifecycle: the only legal moves of a host between states, as one table.
 * Everything that moves a host consults this table; the store enforces it again with conditional writes.
 */
import { IllegalTransitionError } from './errors.js';

export const HOST_STATES = [
  'IN_SERVICE',
  'ADMITTED',
  'DRAINING',
  'DRAINED',
  'SUSPENDING',
  'RELOADING',
  'RESUMING',
  'VERIFYING',
  'UNDRAINING',
  /** Something went wrong and was compensated; the host is being put back by the compensation path. */
  'RECOVERING',
  /** Needs a person: the host is out of service and its state must not be touched automatically. */
  'QUARANTINED',
] as const;

export type HostState = (typeof HOST_STATES)[number];

/** States in which an execution owns the host; every other state is unowned. */
export const OWNED_STATES: ReadonlySet<HostState> = new Set(
  HOST_STATES.filter((s) => s !== 'IN_SERVICE' && s !== 'QUARANTINED'),
);

/**
 * Why each group of edges exists:
 * - the happy path walks IN_SERVICE → … → UNDRAINING → IN_SERVICE one step at a time;
 * - ADMITTED/DRAINING/DRAINED may return straight to service when nothing on the host was touched yet
 *   (a refused preflight, a cancelled or dry run), via UNDRAINING when a drain began;
 * - from SUSPENDING onwards guests may be paused, so failure goes to RECOVERING (the Recover document);
 * - RECOVERING ends either back in service (through UNDRAINING) or QUARANTINED;
 * - any owned state may be QUARANTINED when compensation itself cannot proceed;
 * - QUARANTINED leaves only by an explicit operator release to IN_SERVICE.
 */
const TRANSITIONS: Readonly<Record<HostState, readonly HostState[]>> = {
  IN_SERVICE: ['ADMITTED'],
  ADMITTED: ['DRAINING', 'IN_SERVICE', 'QUARANTINED'],
  DRAINING: ['DRAINED', 'UNDRAINING', 'QUARANTINED'],
  DRAINED: ['SUSPENDING', 'UNDRAINING', 'QUARANTINED'],
  SUSPENDING: ['RELOADING', 'RECOVERING', 'QUARANTINED'],
  RELOADING: ['RESUMING', 'RECOVERING', 'QUARANTINED'],
  RESUMING: ['VERIFYING', 'RECOVERING', 'QUARANTINED'],
  VERIFYING: ['UNDRAINING', 'RECOVERING', 'QUARANTINED'],
  UNDRAINING: ['IN_SERVICE', 'QUARANTINED'],
  RECOVERING: ['UNDRAINING', 'QUARANTINED'],
  QUARANTINED: ['IN_SERVICE'],
};

/** The states a host passes through in one successful rejuvenation, in order. */
export const REJUVENATION_PATH: readonly HostState[] = [
  'IN_SERVICE',
  'ADMITTED',
  'DRAINING',
  'DRAINED',
  'SUSPENDING',
  'RELOADING',
  'RESUMING',
  'VERIFYING',
  'UNDRAINING',
  'IN_SERVICE',
];

export function isHostState(value: unknown): value is HostState {
  return typeof value === 'string' && (HOST_STATES as readonly string[]).includes(value);
}

export function isLegalTransition(from: HostState, to: HostState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function legalTargets(from: HostState): readonly HostState[] {
  return TRANSITIONS[from];
}

export function assertLegalTransition(from: HostState, to: HostState): void {
  if (!isLegalTransition(from, to)) throw new IllegalTransitionError(from, to);
}

/**
 * How ownership changes across an edge: leaving an unowned state claims the host for the execution,
 * entering IN_SERVICE gives it up, everything else requires the caller to be the owner already.
 * QUARANTINED keeps the id of the execution that quarantined it, for the record, but is released by
 * whoever the operator is, so leaving it is a claim too.
 */
export type OwnershipRule = 'claim' | 'owned';

export function ownershipRule(from: HostState): OwnershipRule {
  return from === 'IN_SERVICE' || from === 'QUARANTINED' ? 'claim' : 'owned';
}

export function ownsHostAfter(to: HostState): boolean {
  return to !== 'IN_SERVICE';
}
