/**
 * The policy gate: may this host be taken out of service now? Checked before each host starts, and the
 * decision recorded with it. Pure: the caller gathers the facts (alarms in ALARM, approvals, a
 * break-glass request) and the clock; nothing here reads or writes anything.
 *
 * Rules, in the order they are checked (the first that refuses is the one named):
 * 1. break-glass: a request to break glass must come from a principal the policy names and carry a
 *    reason; otherwise the start is denied (it never silently falls back to the normal rules);
 * 2. cooldown: not before `cooldownMinutes` after the host's last rejuvenation;
 * 3. approval: a pool that requires one starts nothing until it is recorded;
 * 4. blackout: not within a blackout, nor `startMarginMinutes` before one;
 * 5. window: only inside a maintenance window with `startMarginMinutes` of it left;
 * 6. blocker: not while an alarm matching one of the pool's blocker patterns is in ALARM.
 * Break-glass bypasses 5 and 6 only; cooldown, approval and blackouts still hold.
 *
 * Verdicts: `allow`; `wait-until`: not before `untilMs`, the next instant every time-based rule allows
 * (ask again then: a blocker may have been raised meanwhile); `deny`: not now, and no instant is known
 * at which it will be allowed (an alarm, a missing approval, a refused break-glass).
 */
import { windowContaining, windowIntervals } from './maintenance-window.js';
import type { ResolvedPoolPolicy } from './policy-config.js';

export type PolicyRule = 'break-glass' | 'cooldown' | 'approval' | 'blackout' | 'window' | 'blocker';

/** Rules that depend on the pool and the facts only, never on the host: one refusal stands for the pool. */
export const POOL_WIDE_RULES: ReadonlySet<PolicyRule> = new Set([
  'break-glass',
  'approval',
  'blackout',
  'window',
  'blocker',
]);

export interface PolicyHost {
  readonly hostId: string;
  readonly pool: string;
  /** When its last rejuvenation ended; omitted when it never had one. */
  readonly lastRejuvenatedAtMs?: number | undefined;
}

export interface BreakGlassRequest {
  /** The authenticated caller, an IAM ARN: never taken from the request body. */
  readonly principal: string;
  readonly reason: string;
}

export interface PolicyFacts {
  /** Names of the CloudWatch alarms now in ALARM. */
  readonly alarmsInAlarm: readonly string[];
  /** Whether an approval is recorded for this pool (only read when the pool requires one). */
  readonly approved: boolean;
  readonly breakGlass?: BreakGlassRequest | undefined;
}

interface DecisionBase {
  readonly hostId: string;
  readonly pool: string;
  readonly atMs: number;
}

export type PolicyDecision =
  | (DecisionBase & {
      readonly verdict: 'allow';
      /** Present when the start relies on break-glass: who, why, and which rules it set aside. */
      readonly breakGlass?: BreakGlassRequest & { readonly bypassed: readonly PolicyRule[] };
    })
  | (DecisionBase & {
      readonly verdict: 'wait-until';
      readonly untilMs: number;
      readonly rule: PolicyRule;
      readonly reason: string;
    })
  | (DecisionBase & { readonly verdict: 'deny'; readonly rule: PolicyRule; readonly reason: string });

const MINUTE_MS = 60_000;
/** How far ahead `wait-until` looks for an allowed instant before it gives up and denies. */
const SEARCH_HORIZON_MS = 60 * 24 * 60 * MINUTE_MS;

const patternCache = new Map<string, RegExp>();

/** Glob match of an alarm name: `*` any run, `?` one character. */
export function alarmMatches(pattern: string, alarmName: string): boolean {
  let regex = patternCache.get(pattern);
  if (regex === undefined) {
    const body = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('');
    regex = new RegExp(`^${body}$`);
    patternCache.set(pattern, regex);
  }
  return regex.test(alarmName);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function blackoutAt(pool: ResolvedPoolPolicy, atMs: number) {
  const margin = pool.startMarginMinutes * MINUTE_MS;
  return pool.blackouts.find((b) => atMs >= b.startMs - margin && atMs < b.endMs);
}

/** Whether `atMs` is in a window with the start margin left. Pools without windows are always open. */
function inWindow(pool: ResolvedPoolPolicy, atMs: number): boolean {
  if (pool.windows === undefined) return true;
  const open = windowContaining(pool.windows, atMs);
  return open !== undefined && open.endMs - atMs >= pool.startMarginMinutes * MINUTE_MS;
}

/**
 * The first instant at or after `fromMs` that the cooldown, the blackouts and (unless bypassed) the
 * windows all allow; undefined when there is none within the search horizon.
 */
export function nextAllowedInstant(
  pool: ResolvedPoolPolicy,
  fromMs: number,
  options: { cooldownEndMs?: number; ignoreWindows?: boolean } = {},
): number | undefined {
  const margin = pool.startMarginMinutes * MINUTE_MS;
  let t = Math.max(fromMs, options.cooldownEndMs ?? fromMs);
  const limit = fromMs + SEARCH_HORIZON_MS;
  while (t <= limit) {
    const blackout = blackoutAt(pool, t);
    if (blackout !== undefined) {
      t = blackout.endMs;
      continue;
    }
    if (options.ignoreWindows === true || pool.windows === undefined || inWindow(pool, t)) return t;
    const next = windowIntervals(pool.windows, t).find((w) => Math.max(t, w.startMs) <= w.endMs - margin);
    // No usable window in the next week: look again from a week on (all days may be blacked out).
    t = next === undefined ? t + 7 * 24 * 60 * MINUTE_MS : Math.max(t, next.startMs);
  }
  return undefined;
}

/** Decides whether `host` of `pool` may start at `nowMs`. */
export function decide(
  host: PolicyHost,
  pool: ResolvedPoolPolicy,
  nowMs: number,
  facts: PolicyFacts,
): PolicyDecision {
  const base = { hostId: host.hostId, pool: pool.poolId, atMs: nowMs };
  const deny = (rule: PolicyRule, reason: string): PolicyDecision => ({
    ...base,
    verdict: 'deny',
    rule,
    reason,
  });

  const breakGlass = facts.breakGlass;
  if (breakGlass !== undefined) {
    if (!pool.breakGlassPrincipals.includes(breakGlass.principal))
      return deny('break-glass', `${breakGlass.principal} is not a break-glass principal of the policy`);
    if (breakGlass.reason.trim() === '') return deny('break-glass', 'break-glass requires a reason');
  }

  const cooldownEndMs =
    host.lastRejuvenatedAtMs === undefined
      ? undefined
      : host.lastRejuvenatedAtMs + pool.cooldownMinutes * MINUTE_MS;
  const waitFor = (rule: PolicyRule, reason: string): PolicyDecision => {
    const untilMs = nextAllowedInstant(pool, nowMs, {
      ...(cooldownEndMs === undefined ? {} : { cooldownEndMs }),
      ignoreWindows: breakGlass !== undefined,
    });
    if (untilMs === undefined)
      return deny(
        rule,
        `${reason}; no allowed instant in the next ${SEARCH_HORIZON_MS / (24 * 60 * MINUTE_MS)} days`,
      );
    return { ...base, verdict: 'wait-until', untilMs, rule, reason };
  };

  if (cooldownEndMs !== undefined && nowMs < cooldownEndMs)
    return waitFor(
      'cooldown',
      `host ${host.hostId} was rejuvenated at ${iso(host.lastRejuvenatedAtMs ?? 0)}; pool ${pool.poolId} cools down for ${pool.cooldownMinutes} min, until ${iso(cooldownEndMs)}`,
    );
  if (pool.requiresApproval && !facts.approved)
    return deny('approval', `pool ${pool.poolId} requires an approval and none is recorded`);
  const blackout = blackoutAt(pool, nowMs);
  if (blackout !== undefined)
    return waitFor(
      'blackout',
      `pool ${pool.poolId} is blacked out from ${iso(blackout.startMs)} to ${iso(blackout.endMs)}` +
        (pool.startMarginMinutes > 0 ? ` (starts stop ${pool.startMarginMinutes} min before)` : '') +
        (blackout.reason === undefined ? '' : `: ${blackout.reason}`),
    );

  const bypassed: PolicyRule[] = [];
  if (!inWindow(pool, nowMs)) {
    if (breakGlass === undefined)
      return waitFor(
        'window',
        `pool ${pool.poolId} is outside its maintenance windows` +
          (pool.startMarginMinutes > 0
            ? ` (or less than ${pool.startMarginMinutes} min of one is left)`
            : ''),
      );
    bypassed.push('window');
  }
  const blocking = facts.alarmsInAlarm.filter((alarm) =>
    pool.blockerAlarmPatterns.some((pattern) => alarmMatches(pattern, alarm)),
  );
  if (blocking.length > 0) {
    if (breakGlass === undefined)
      return deny('blocker', `pool ${pool.poolId} is blocked by alarm(s) in ALARM: ${blocking.join(', ')}`);
    bypassed.push('blocker');
  }
  return breakGlass === undefined
    ? { ...base, verdict: 'allow' }
    : { ...base, verdict: 'allow', breakGlass: { ...breakGlass, bypassed } };
}
