/**
 * An execution refused at Admit (no trigger claimed it, host locked by another execution, not in
 * service, pool full for too long, bad input) holds nothing; it is recorded on the host's chain where
 * the host is known, and told.
 */
import { hostChainId } from '../domain/audit-record.js';
import { MAX_PRINCIPAL_LENGTH, HostIdSchema } from '../domain/identifiers.js';
import type { PolicyRule } from '../policy/decide.js';
import { parsePolicyRefusal } from '../policy/policy-errors.js';
import { describeCaught } from './compensate.js';
import { judgeExecutionClaim } from './execution-claim.js';
import { RejuvenationRequestSchema, type RejuvenationRequest } from './rejuvenation-request.js';
import { queueRefusedRequest, type QueueOutcome } from './queue-refused.js';
import type { CaughtError } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** Marks a principal no trigger vouched for, on the record's principal itself (as exports show it). */
export const UNVERIFIED_PREFIX = 'unverified:';

/**
 * What kind of refusal, for whoever acts on it (an operator reading `rejuv status`, a queue that retries
 * later): the policy gate, a full pool, the host's own state, no trigger's claim, or anything else.
 */
export type RefusalKind = 'policy' | 'pool-full' | 'host-locked' | 'host-state' | 'unclaimed' | 'other';

const KINDS: Readonly<Record<string, RefusalKind>> = {
  PolicyRefusedError: 'policy',
  PoolFullError: 'pool-full',
  LockHeldError: 'host-locked',
  HostNotInServiceError: 'host-state',
  HostUnavailableError: 'host-state',
  UnclaimedExecutionError: 'unclaimed',
};

export interface Refusal {
  readonly outcome: 'refused';
  readonly kind: RefusalKind;
  readonly executionId: string;
  readonly hostId?: string;
  readonly reason: string;
  /** `pool-full` and `policy` may pass: an alarm's or a prediction's request refused so is queued. */
  readonly queued?: boolean;
  /** For a policy refusal: the rule that refused. */
  readonly rule?: PolicyRule;
  /** For a policy refusal that names one: the first instant the gate would allow. */
  readonly untilMs?: number;
}

/** The kind of a caught error, with the policy's rule and instant read back from its message. */
function classify(error: CaughtError, reason: string): Pick<Refusal, 'kind' | 'rule' | 'untilMs'> {
  const kind = KINDS[error.Error] ?? 'other';
  if (kind !== 'policy') return { kind };
  const detail = parsePolicyRefusal(reason.slice(`${error.Error}: `.length));
  return detail === undefined
    ? { kind }
    : { kind, rule: detail.rule, ...(detail.untilMs === undefined ? {} : { untilMs: detail.untilMs }) };
}

export async function recordRefusal(
  deps: Pick<WorkflowDeps, 'store' | 'notifier' | 'clock'>,
  executionId: string,
  input: unknown,
  error: CaughtError,
): Promise<Refusal> {
  const reason = describeCaught(error);
  const classified = classify(error, reason);
  const request = RejuvenationRequestSchema.safeParse(input);
  const hostId = request.success
    ? request.data.hostId
    : HostIdSchema.safeParse((input as { hostId?: unknown } | null)?.hostId).data;
  if (hostId === undefined) return { outcome: 'refused', ...classified, executionId, reason };
  const known = await deps.store.hosts.get(hostId).then(
    () => true,
    () => false,
  );
  let queue: QueueOutcome | undefined;
  if (known && request.success) {
    const principal = await principalOnRecord(deps, executionId, request.data);
    await deps.store.audit.append(hostChainId(hostId), {
      eventId: `${executionId}:Admit:refused`,
      at: new Date(deps.clock.nowMs()).toISOString(),
      principal: principal.principal,
      trigger: request.data.trigger,
      step: 'Admit',
      outcome: 'refused',
      executionId,
      reason,
      detail: {
        error: error.Error,
        refusalKind: classified.kind,
        ...(classified.rule === undefined ? {} : { policyRule: classified.rule }),
        ...(classified.untilMs === undefined
          ? {}
          : { policyUntil: new Date(classified.untilMs).toISOString() }),
        ...principal.detail,
      },
    });
    // Only a request a trigger vouched for is worth running later.
    if (principal.principal === request.data.principal)
      queue = await queueRefusedRequest(deps, executionId, request.data, {
        kind: classified.kind === 'policy' || classified.kind === 'pool-full' ? classified.kind : 'other',
        reason,
        rule: classified.rule,
        untilMs: classified.untilMs,
      });
  }
  const queued = queue?.queued === true;
  await deps.notifier.notify({
    kind: 'refused',
    hostId,
    executionId,
    subject: `rejuv: host ${hostId} refused`,
    message: `Execution ${executionId} did not start on host ${hostId}: ${reason}${queued ? ". The request is queued: it runs in its pool's next allowed slot (rejuv hosts shows it waiting)." : ''}`,
  });
  return {
    outcome: 'refused',
    ...classified,
    executionId,
    hostId,
    reason,
    ...(queue === undefined ? {} : { queued }),
  };
}

/**
 * The input names a principal, but only a trigger's claim on this very request vouches for it (Admit may
 * have been refused before it looked, or for having found none): without one the record says so, and
 * keeps what the input claimed beside it.
 */
async function principalOnRecord(
  deps: Pick<WorkflowDeps, 'store'>,
  executionId: string,
  request: RejuvenationRequest,
): Promise<{ principal: string; detail: Record<string, string | boolean> }> {
  let finding: string;
  try {
    const verdict = judgeExecutionClaim(
      executionId,
      request,
      await deps.store.idempotency.claimOf(executionId),
    );
    if (verdict.claimed) return { principal: request.principal, detail: {} };
    finding = verdict.finding;
  } catch {
    // The refusal is recorded all the same; the principal is simply not vouched for.
    finding = 'claim-unreadable';
  }
  return {
    principal: `${UNVERIFIED_PREFIX}${request.principal}`.slice(0, MAX_PRINCIPAL_LENGTH),
    detail: { principalVerified: false, claimedPrincipal: request.principal, claim: finding },
  };
}
