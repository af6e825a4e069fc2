import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '../../../shared/domain/errors.js';
import {
  HOST_STATES,
  REJUVENATION_PATH,
  assertLegalTransition,
  isHostState,
  isLegalTransition,
  legalTargets,
  type HostState,
} from '../../../shared/domain/host-state.js';

// The lifecycle written out independently of the implementation's table, edge by edge.
const EXPECTED_EDGES = new Set([
  'IN_SERVICE>ADMITTED',
  'ADMITTED>DRAINING',
  'ADMITTED>IN_SERVICE',
  'ADMITTED>QUARANTINED',
  'DRAINING>DRAINED',
  'DRAINING>UNDRAINING',
  'DRAINING>QUARANTINED',
  'DRAINED>SUSPENDING',
  'DRAINED>UNDRAINING',
  'DRAINED>QUARANTINED',
  'SUSPENDING>RELOADING',
  'SUSPENDING>RECOVERING',
  'SUSPENDING>QUARANTINED',
  'RELOADING>RESUMING',
  'RELOADING>RECOVERING',
  'RELOADING>QUARANTINED',
  'RESUMING>VERIFYING',
  'RESUMING>RECOVERING',
  'RESUMING>QUARANTINED',
  'VERIFYING>UNDRAINING',
  'VERIFYING>RECOVERING',
  'VERIFYING>QUARANTINED',
  'UNDRAINING>IN_SERVICE',
  'UNDRAINING>QUARANTINED',
  'RECOVERING>UNDRAINING',
  'RECOVERING>QUARANTINED',
  'QUARANTINED>IN_SERVICE',
]);

function reachableFrom(start: HostState): Set<HostState> {
  const seen = new Set<HostState>([start]);
  const queue: HostState[] = [start];
  for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
    for (const next of legalTargets(current)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

const ALL_PAIRS = HOST_STATES.flatMap((from) => HOST_STATES.map((to) => [from, to] as const));

describe('Host lifecycle', () => {
  describe.each(ALL_PAIRS)('%s -> %s', (from, to) => {
    const legal = EXPECTED_EDGES.has(`${from}>${to}`);
    it(legal ? 'is legal' : 'is refused with IllegalTransitionError', () => {
      expect(isLegalTransition(from, to)).toBe(legal);
      if (legal) {
        expect(() => assertLegalTransition(from, to)).not.toThrow();
      } else {
        expect(() => assertLegalTransition(from, to)).toThrow(IllegalTransitionError);
      }
    });
  });

  it('walks the rejuvenation path along legal edges only, from and back to IN_SERVICE', () => {
    expect(REJUVENATION_PATH[0]).toBe('IN_SERVICE');
    expect(REJUVENATION_PATH.at(-1)).toBe('IN_SERVICE');
    for (let i = 1; i < REJUVENATION_PATH.length; i++) {
      expect(EXPECTED_EDGES.has(`${REJUVENATION_PATH[i - 1]}>${REJUVENATION_PATH[i]}`), `step ${i}`).toBe(
        true,
      );
    }
  });

  it('has no self-loops, so a duplicate step can never look like progress', () => {
    for (const s of HOST_STATES) expect(isLegalTransition(s, s)).toBe(false);
  });

  it('reaches every state from IN_SERVICE', () => {
    expect([...reachableFrom('IN_SERVICE')].sort()).toEqual([...HOST_STATES].sort());
  });

  it('lets every state end back in service or in quarantine: no dead ends', () => {
    for (const start of HOST_STATES) {
      const reachable = reachableFrom(start);
      expect(reachable.has('IN_SERVICE') || reachable.has('QUARANTINED'), start).toBe(true);
    }
  });

  it('only leaves QUARANTINED through an explicit release to IN_SERVICE', () => {
    expect(legalTargets('QUARANTINED')).toEqual(['IN_SERVICE']);
  });

  it('recognises states and refuses anything else', () => {
    expect(isHostState('DRAINED')).toBe(true);
    for (const bad of ['drained', 'REBOOTING', '', 42, null, undefined]) expect(isHostState(bad)).toBe(false);
  });

  it('names both ends in the error', () => {
    expect(() => assertLegalTransition('IN_SERVICE', 'RELOADING')).toThrow(
      'illegal host transition IN_SERVICE -> RELOADING',
    );
  });
});
