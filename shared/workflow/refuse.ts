/**
 * An execution refused at Admit (no trigger claimed it, host locked by another execution, not in
 * service, pool full for too long, bad input) holds nothing; it is recorded on the host's chain where
 * the host is known, and told.
 */
import { hostChainId } from '../domain/audit-record.js';
import { MAX_PRINCIPAL_LENGTH, HostIdSchema } from '../domain/identifiers.js';
import { describeCaught } from './compensate.js';
import { judgeExecutionClaim } from './execution-claim.js';
import { RejuvenationRequestSchema, type RejuvenationRequest } from './rejuvenation-request.js';
import { queueRefusedRequest, refusalKindOf, type QueueOutcome, type RefusalKind } from './queue-refused.js';
import type { CaughtError } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** Marks a principal no trigger vouched for, on the record's principal itself (as exports show it). */
export const UNVERIFIED_PREFIX = 'unverified:';

export interface Refusal {
  readonly outcome: 'refused';
  readonly executionId: string;
  readonly hostId?: string;
  readonly reason: string;
  /** `pool-full` and `policy` may pass; an alarm's or a prediction's request refused so is queued. */
  readonly kind: RefusalKind;
  readonly queued?: boolean;
}

export async function recordRefusal(
  deps: Pick<WorkflowDeps, 'store' | 'notifier' | 'clock'>,
  executionId: string,
  input: unknown,
  error: CaughtError,
): Promise<Refusal> {
  const reason = describeCaught(error);
  const kind = refusalKindOf(error.Error);
  const request = RejuvenationRequestSchema.safeParse(input);
  const hostId = request.success
    ? request.data.hostId
    : HostIdSchema.safeParse((input as { hostId?: unknown } | null)?.hostId).data;
  if (hostId === undefined) return { outcome: 'refused', executionId, reason, kind };
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
      detail: { error: error.Error, ...principal.detail },
    });
    // Only a request a trigger vouched for is worth running later.
    if (principal.principal === request.data.principal)
      queue = await queueRefusedRequest(deps, executionId, request.data, { kind, reason });
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
    executionId,
    hostId,
    reason,
    kind,
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
