/**
 * The fleet simulation's checker is not vacuous: a clean simulated campaign passes it, and each kind of
 * violation injected into that campaign's record is caught and named.
 */
import { describe, expect, it } from 'vitest';
import { checkFleetRun } from '../../../sim/fleet-checker.js';
import { buildScenario } from '../../../sim/fleet-scenario.js';
import { simulateFleet, type SimRun } from '../../../sim/fleet-simulation.js';

const scenario = buildScenario({ hosts: 300, seed: 7 });
const result = simulateFleet(scenario);
const at = (iso: string) => Date.parse(iso);

function runOf(pool: string, cause: SimRun['cause'] = 'campaign'): SimRun {
  const run = result.runs.find((r) => r.pool === pool && r.cause === cause);
  if (run === undefined) throw new Error(`no ${cause} run in ${pool}`);
  return run;
}

/** The record with `run` moved to start at `startMs` (same duration). */
function moved(run: SimRun, startMs: number): SimRun[] {
  return result.runs.map((r) => (r === run ? { ...r, startMs, endMs: startMs + (r.endMs - r.startMs) } : r));
}

describe('Function: checkFleetRun', () => {
  it('passes the simulated campaign as it happened', () => {
    const report = checkFleetRun(scenario, result.runs, result.outcomes);
    expect(report.violations).toEqual([]);
    expect(report.lostRequests).toEqual([]);
    expect(result.campaignStatus).toBe('completed');
    expect(report.instantsChecked).toBeGreaterThan(result.runs.length);
  });

  it('catches a start outside the pool window (08:00 in New York)', () => {
    const run = runOf('web');
    const report = checkFleetRun(scenario, moved(run, at('2026-10-23T12:00:00Z')), result.outcomes);
    expect(report.violations).toContainEqual(expect.stringMatching(new RegExp(`^window: ${run.runId} `)));
  });

  it('catches a start inside the window with less than the margin left', () => {
    // web closes at 06:00 EDT = 10:00Z; its margin is 10 minutes.
    const report = checkFleetRun(scenario, moved(runOf('web'), at('2026-10-24T09:55:00Z')), result.outcomes);
    expect(report.violations.filter((v) => v.startsWith('window:'))).toHaveLength(1);
  });

  it('reads windows across the fall-back night on the wall clock (Berlin, 25 October)', () => {
    // db: Sundays 01:00-05:00 Berlin. 03:30Z is 04:30 CET, inside; in summer time it would be 05:30.
    const run = runOf('db');
    const inside = checkFleetRun(scenario, moved(run, at('2026-10-25T03:30:00Z')), result.outcomes);
    expect(inside.violations.filter((v) => v.startsWith('window:'))).toEqual([]);
    const after = checkFleetRun(scenario, moved(run, at('2026-10-25T04:00:00Z')), result.outcomes);
    expect(after.violations.filter((v) => v.startsWith('window:'))).toHaveLength(1);
  });

  it('catches a pool limit exceeded at some instant', () => {
    const tighter = {
      ...scenario,
      limits: {
        ...scenario.limits,
        maxInMaintenancePerPool: { ...scenario.limits.maxInMaintenancePerPool, web: 1 },
      },
    };
    const report = checkFleetRun(tighter, result.runs, result.outcomes);
    expect(report.violations).toContainEqual(
      expect.stringMatching(/^pool limit: 2 hosts of web in maintenance/),
    );
  });

  it('catches a zone limit exceeded', () => {
    const tighter = { ...scenario, limits: { ...scenario.limits, defaultMaxInMaintenancePerAz: 1 } };
    expect(checkFleetRun(tighter, result.runs, result.outcomes).violations).toContainEqual(
      expect.stringMatching(/^zone limit: /),
    );
  });

  it('catches a run in a blackout, and a start during a blocker alarm', () => {
    const api = runOf('api');
    expect(
      checkFleetRun(scenario, moved(api, at('2026-10-23T22:45:00Z')), result.outcomes).violations,
    ).toContainEqual(expect.stringMatching(new RegExp(`^blackout: ${api.runId} `)));
    const web = runOf('web');
    expect(
      checkFleetRun(scenario, moved(web, at('2026-10-24T02:30:00Z')), result.outcomes).violations,
    ).toContainEqual(
      `blocker: ${web.runId} (${web.hostId}) at 2026-10-24T02:30:00.000Z starts while web-us-east-5xx is in ALARM`,
    );
  });

  it('catches a second run inside the cooldown, and a start before approval', () => {
    const batch = runOf('batch');
    const again: SimRun = {
      ...batch,
      runId: 'run-injected',
      startMs: batch.endMs + 60_000,
      endMs: batch.endMs + 100_000,
    };
    expect(checkFleetRun(scenario, [...result.runs, again], result.outcomes).violations).toContainEqual(
      expect.stringMatching(/^cooldown: run-injected /),
    );
    const db = runOf('db');
    expect(
      checkFleetRun(scenario, moved(db, scenario.startMs + 60_000), result.outcomes).violations,
    ).toContainEqual(expect.stringMatching(new RegExp(`^approval: ${db.runId} `)));
  });

  it('counts a request without an outcome as lost, and one settled twice as a violation', () => {
    const [first, ...rest] = result.outcomes;
    if (first === undefined) throw new Error('the scenario has no request outcomes');
    expect(checkFleetRun(scenario, result.runs, rest).lostRequests).toEqual([first.requestId]);
    expect(checkFleetRun(scenario, result.runs, [first, ...result.outcomes]).violations).toContainEqual(
      `request ${first.requestId} settled 2 times`,
    );
  });

  it('refuses a run that was started before the request it claims to answer', () => {
    const ran = result.outcomes.find((o) => o.outcome === 'ran');
    if (ran === undefined || ran.outcome !== 'ran') throw new Error('no request ran');
    const run = result.runs.find((r) => r.runId === ran.runId);
    if (run === undefined) throw new Error('no such run');
    const early = result.runs.map((r) =>
      r === run ? { ...r, startMs: scenario.startMs - 1, endMs: scenario.startMs } : r,
    );
    expect(checkFleetRun(scenario, early, result.outcomes).lostRequests).toContain(ran.requestId);
  });
});
