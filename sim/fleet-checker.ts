/**
 * The simulation's independent judge. It reads the scenario as the operator wrote it (raw policy text, not
 * the parsed form) and the runs as they happened, and checks with its own arithmetic, sharing no code
 * with shared/policy or shared/campaign:
 * - limits: at every instant a run starts or ends (nothing changes in between), hosts in maintenance
 *   per pool and per availability zone are within their limits;
 * - windows: every start, and every minute of its start margin after it, reads on the pool's wall clock
 *   (Intl's weekday and time of day, the window's days and times compared as text) as inside a window;
 * - blackouts: no run overlaps one, none starts within the margin before one;
 * - blockers: no start while a matching alarm is in ALARM; approvals: none before the pool's approval;
 * - cooldown: each host's starts are at least the cooldown after its previous successful run;
 * - deregistered hosts never start;
 * - requests: every request has exactly one outcome: a run of its host that started at or after it was
 *   received, or a drop whose reason is given while the host is deregistered. Anything else is lost.
 */
import type { RequestOutcome } from '../shared/campaign/pending-requests.js';
import type { RawWindow, Scenario } from './fleet-scenario.js';
import type { SimRun } from './fleet-simulation.js';

export interface CheckerReport {
  readonly violations: readonly string[];
  readonly lostRequests: readonly string[];
  readonly instantsChecked: number;
}

const MINUTE_MS = 60_000;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const wallClocks = new Map<string, Intl.DateTimeFormat>();

/** `["sat", "01:30"]`: the weekday and the time of day on the zone's clock. */
function wallClock(atMs: number, timeZone: string): [string, string] {
  let format = wallClocks.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    wallClocks.set(timeZone, format);
  }
  let weekday = '';
  let hh = '';
  let mm = '';
  for (const part of format.formatToParts(atMs)) {
    if (part.type === 'weekday') weekday = part.value.toLowerCase().slice(0, 3);
    else if (part.type === 'hour') hh = part.value;
    else if (part.type === 'minute') mm = part.value;
  }
  return [weekday, `${hh}:${mm}`];
}

/** Inside the window by the wall clock: HH:MM strings compare as times do. */
function insideWindow(window: RawWindow, atMs: number): boolean {
  const [day, time] = wallClock(atMs, window.timeZone);
  const end = window.end === '24:00' ? '24:01' : window.end;
  if (window.start < end) return window.days.includes(day) && window.start <= time && time < end;
  const yesterday = DAYS[(DAYS.indexOf(day) + 6) % 7] ?? '';
  return (
    (window.days.includes(day) && time >= window.start) || (window.days.includes(yesterday) && time < end)
  );
}

function globMatches(pattern: string, name: string): boolean {
  if (pattern === '') return name === '';
  const [head, ...rest] = pattern;
  const tail = rest.join('');
  if (head === '*') return [...Array(name.length + 1).keys()].some((i) => globMatches(tail, name.slice(i)));
  return name.length > 0 && (head === '?' || head === name[0]) && globMatches(tail, name.slice(1));
}

export function checkFleetRun(
  scenario: Scenario,
  runs: readonly SimRun[],
  outcomes: readonly RequestOutcome[],
): CheckerReport {
  const violations: string[] = [];
  const fail = (message: string) => violations.push(message);
  const limits = scenario.limits;
  const poolLimit = (pool: string) =>
    limits.maxInMaintenancePerPool[pool] ?? limits.defaultMaxInMaintenancePerPool;
  const azLimit = (az: string) =>
    limits.maxInMaintenancePerAz[az] ?? limits.defaultMaxInMaintenancePerAz ?? Infinity;

  // Limits, at every instant something changes: ends before starts at the same instant (a slot freed
  // at t may be taken at t).
  const points = runs.flatMap((r) => [
    { atMs: r.startMs, delta: 1, run: r },
    { atMs: r.endMs, delta: -1, run: r },
  ]);
  points.sort((a, b) => a.atMs - b.atMs || a.delta - b.delta);
  const perPool = new Map<string, number>();
  const perAz = new Map<string, number>();
  let instantsChecked = 0;
  let lastInstant = NaN;
  for (const p of points) {
    if (p.atMs !== lastInstant) {
      instantsChecked++;
      lastInstant = p.atMs;
    }
    const pool = (perPool.get(p.run.pool) ?? 0) + p.delta;
    const az = (perAz.get(p.run.availabilityZone) ?? 0) + p.delta;
    perPool.set(p.run.pool, pool);
    perAz.set(p.run.availabilityZone, az);
    if (p.delta > 0 && pool > poolLimit(p.run.pool))
      fail(
        `pool limit: ${pool} hosts of ${p.run.pool} in maintenance at ${new Date(p.atMs).toISOString()} (limit ${poolLimit(p.run.pool)})`,
      );
    if (p.delta > 0 && az > azLimit(p.run.availabilityZone))
      fail(
        `zone limit: ${az} hosts of ${p.run.availabilityZone} in maintenance at ${new Date(p.atMs).toISOString()}`,
      );
  }

  const deregisteredAt = new Map(scenario.deregistrations.map((d) => [d.hostId, d.atMs]));
  const approvals = new Map(scenario.approvals.map((a) => [a.pool, a.atMs]));
  const byHost = new Map<string, SimRun[]>();
  for (const run of runs) {
    const own = byHost.get(run.hostId) ?? [];
    own.push(run);
    byHost.set(run.hostId, own);
    const policy = scenario.policy.pools[run.pool] ?? {};
    const when = `${run.runId} (${run.hostId}) at ${new Date(run.startMs).toISOString()}`;
    const marginMs = (policy.startMarginMinutes ?? 0) * MINUTE_MS;
    const windows = policy.windows;
    if (windows !== undefined) {
      for (let t = run.startMs; t <= run.startMs + marginMs; t += MINUTE_MS) {
        const probe = Math.min(t, run.startMs + marginMs - 1);
        if (!windows.some((w) => insideWindow(w, Math.max(run.startMs, probe)))) {
          fail(`window: ${when} is outside ${run.pool}'s windows or leaves less than its margin`);
          break;
        }
      }
    }
    for (const b of policy.blackouts ?? []) {
      const start = Date.parse(b.start);
      const end = Date.parse(b.end);
      if (run.startMs < end && run.endMs > start)
        fail(`blackout: ${when} overlaps the blackout ${b.start}-${b.end}`);
      else if (run.startMs >= start - marginMs && run.startMs < start)
        fail(`blackout: ${when} starts within the margin before ${b.start}`);
    }
    for (const alarm of scenario.blockerAlarms) {
      const blocks = (policy.blockerAlarmPatterns ?? []).some((p) => globMatches(p, alarm.alarmName));
      if (blocks && run.startMs >= alarm.startMs && run.startMs < alarm.endMs)
        fail(`blocker: ${when} starts while ${alarm.alarmName} is in ALARM`);
    }
    if (policy.requiresApproval === true && !(run.startMs >= (approvals.get(run.pool) ?? Infinity)))
      fail(`approval: ${when} starts before ${run.pool} was approved`);
    const gone = deregisteredAt.get(run.hostId);
    if (gone !== undefined && run.startMs >= gone)
      fail(`deregistered: ${when} starts after the host was deregistered`);
  }

  const scenarioHosts = new Map(scenario.hosts.map((h) => [h.hostId, h]));
  for (const [hostId, own] of byHost) {
    own.sort((a, b) => a.startMs - b.startMs);
    const cooldownMs = (scenario.policy.pools[own[0]?.pool ?? '']?.cooldownMinutes ?? 0) * MINUTE_MS;
    let last = scenarioHosts.get(hostId)?.lastRejuvenatedAtMs;
    let previousEnd = -Infinity;
    for (const run of own) {
      if (run.startMs < previousEnd)
        fail(`overlap: ${run.runId} starts while ${hostId} is still in maintenance`);
      if (last !== undefined && run.startMs < last + cooldownMs)
        fail(
          `cooldown: ${run.runId} (${hostId}) starts ${((run.startMs - last) / MINUTE_MS).toFixed(1)} min after its last rejuvenation`,
        );
      if (run.ok) last = run.endMs;
      previousEnd = run.endMs;
    }
  }

  // Requests: exactly one valid outcome each.
  const runById = new Map(runs.map((r) => [r.runId, r]));
  const outcomesByRequest = new Map<string, RequestOutcome[]>();
  for (const o of outcomes)
    outcomesByRequest.set(o.requestId, [...(outcomesByRequest.get(o.requestId) ?? []), o]);
  const lostRequests: string[] = [];
  const firstReceived = new Map<string, { hostId: string; receivedAtMs: number }>();
  for (const r of scenario.requests) if (!firstReceived.has(r.requestId)) firstReceived.set(r.requestId, r);
  for (const [requestId, request] of firstReceived) {
    const own = outcomesByRequest.get(requestId) ?? [];
    if (own.length > 1) fail(`request ${requestId} settled ${own.length} times`);
    const outcome = own[0];
    const valid =
      outcome !== undefined &&
      (outcome.outcome === 'ran'
        ? runById.get(outcome.runId)?.hostId === request.hostId &&
          (runById.get(outcome.runId)?.startMs ?? -Infinity) >= request.receivedAtMs
        : outcome.reason.trim() !== '' && (deregisteredAt.get(request.hostId) ?? Infinity) <= outcome.atMs);
    if (!valid) lostRequests.push(requestId);
  }
  return { violations, lostRequests, instantsChecked };
}
