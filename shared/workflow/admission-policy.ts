/**
 * The policy gate at Admit, for every trigger: the host's cooldown, the pool's windows, blackouts and
 * blockers, approval, break-glass. Approval is a campaign's (its plan checked it before starting the
 * host) or the operator's own (a person granted on the pool named this host); alarms and predictions
 * have none, so a pool that requires one refuses them. Break-glass comes from the request, whose
 * principal the trigger's claim vouches for.
 */
import type { Host } from '../domain/host.js';
import type { PolicyDecision } from '../policy/decide.js';
import { PolicyRefusedError } from '../policy/policy-errors.js';
import { judgeHost, type PolicyGate } from '../policy/policy-gate.js';
import type { RejuvenationRequest } from './rejuvenation-request.js';

type DetailValue = string | number | boolean | null;

export async function judgeAdmission(
  gate: PolicyGate,
  request: RejuvenationRequest,
  host: Host,
  nowMs: number,
): Promise<PolicyDecision> {
  return judgeHost(
    gate,
    {
      hostId: host.hostId,
      pool: host.pool,
      lastRejuvenatedAtMs:
        host.lastRejuvenatedAt === undefined ? undefined : Date.parse(host.lastRejuvenatedAt),
    },
    nowMs,
    {
      approved: request.trigger === 'campaign' || request.trigger === 'operator',
      breakGlass:
        request.breakGlassReason === undefined
          ? undefined
          : { principal: request.principal, reason: request.breakGlassReason },
    },
  );
}

/** The error that ends the execution through Refuse, for a decision that is not `allow`. */
export function refusalOf(decision: PolicyDecision): PolicyRefusedError | undefined {
  if (decision.verdict === 'allow') return undefined;
  return new PolicyRefusedError(decision.hostId, {
    rule: decision.rule,
    reason: decision.reason,
    untilMs: decision.verdict === 'wait-until' ? decision.untilMs : undefined,
  });
}

/** The decision as flat audit detail fields; break-glass is named as such, with whom, why and what it set aside. */
export function decisionDetail(decision: PolicyDecision): Record<string, DetailValue> {
  const detail: Record<string, DetailValue> = { policyVerdict: decision.verdict };
  if (decision.verdict === 'allow') {
    if (decision.breakGlass !== undefined) {
      detail['breakGlass'] = true;
      detail['breakGlassPrincipal'] = decision.breakGlass.principal;
      detail['breakGlassReason'] = decision.breakGlass.reason;
      detail['breakGlassBypassed'] = decision.breakGlass.bypassed.join(',') || 'nothing';
    }
    return detail;
  }
  detail['policyRule'] = decision.rule;
  detail['policyReason'] = decision.reason;
  if (decision.verdict === 'wait-until') detail['policyUntil'] = new Date(decision.untilMs).toISOString();
  return detail;
}
