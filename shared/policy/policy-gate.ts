/**
 * The policy gate as the workflow and the campaign plan use it: the fleet policy plus a way to read the
 * facts decide() needs. Alarms are read only when a pool concerned has blocker patterns, so a policy
 * without blockers costs no CloudWatch call. Break-glass is taken from a request whose principal the
 * trigger's claim vouches for (the operator API sets it from the authenticated caller, never the body).
 */
import type { AlarmStates } from '../ports/alarm-states.js';
import { decide, type BreakGlassRequest, type PolicyDecision, type PolicyHost } from './decide.js';
import { policyForPool, type PolicyConfig, type ResolvedPoolPolicy } from './policy-config.js';

export interface PolicyGate {
  readonly config: PolicyConfig;
  readonly alarms: AlarmStates;
}

/** The alarms in ALARM, read once, and only when one of `pools` has blockers. */
export async function alarmsForPools(gate: PolicyGate, pools: Iterable<string>): Promise<readonly string[]> {
  for (const pool of new Set(pools))
    if (policyForPool(gate.config, pool).blockerAlarmPatterns.length > 0) return gate.alarms.namesInAlarm();
  return [];
}

export interface HostFacts {
  /** Whether the start is approved, for pools that require an approval. */
  readonly approved: boolean;
  readonly breakGlass?: BreakGlassRequest | undefined;
}

/** Gathers the facts for one host and decides. */
export async function judgeHost(
  gate: PolicyGate,
  host: PolicyHost,
  nowMs: number,
  facts: HostFacts,
): Promise<PolicyDecision> {
  const pool: ResolvedPoolPolicy = policyForPool(gate.config, host.pool);
  const alarmsInAlarm = await alarmsForPools(gate, [host.pool]);
  return decide(host, pool, nowMs, { alarmsInAlarm, ...facts });
}

/** Whether `principal` may ask for break-glass at all: the operator API refuses others before starting. */
export function mayBreakGlass(config: PolicyConfig, principal: string): boolean {
  return config.breakGlassPrincipals.includes(principal);
}
