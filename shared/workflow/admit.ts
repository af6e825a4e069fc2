/**
 * Admit: the trigger's claim, the host lock, a pool slot, and IN_SERVICE → ADMITTED, in that order.
 * Retrying Admit after a crash finds the lock, the slot and the transition already held by this
 * execution and carries on.
 */
import { HostNotInServiceError, HostUnavailableError, UnclaimedExecutionError } from '../domain/errors.js';
import { ExecutionIdSchema } from '../domain/identifiers.js';
import type { Lease } from '../domain/lease.js';
import { parseWith } from '../domain/validation.js';
import { advance } from './advance.js';
import { decisionDetail, judgeAdmission, refusalOf } from './admission-policy.js';
import { auditStep } from './audit-step.js';
import { judgeExecutionClaim } from './execution-claim.js';
import { RejuvenationRequestSchema } from './rejuvenation-request.js';
import { poolLimit } from './workflow-config.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export async function admit(
  deps: WorkflowDeps,
  executionId: string,
  input: unknown,
): Promise<WorkflowContext> {
  parseWith(ExecutionIdSchema, 'execution id', executionId);
  const request = parseWith(RejuvenationRequestSchema, 'rejuvenation request', input);
  const { store, config } = deps;
  // Before anything is read or taken: an execution no trigger claimed (or whose input is not what its
  // trigger claimed) must not even learn whether its host exists or is locked.
  const verdict = judgeExecutionClaim(executionId, request, await store.idempotency.claimOf(executionId));
  if (!verdict.claimed) throw new UnclaimedExecutionError(executionId, verdict.finding);
  const host = await store.hosts.get(request.hostId);
  // SSM cannot reach it (or no longer manages it): no document would arrive, so nothing is taken.
  if (host.state === 'IN_SERVICE' && host.unavailable !== undefined)
    throw new HostUnavailableError(host.hostId, host.unavailable.reason, host.unavailable.since);
  // A retried Admit whose first attempt already moved the host replays that same transition, which
  // the store recognises, so the audit record it may not have written gets written once.
  const last = host.lastTransition;
  const replay = host.state === 'ADMITTED' && last?.to === 'ADMITTED' && last.executionId === executionId;
  // The gate before any lease: a host the policy refuses never holds a slot another host could use. A
  // replay was allowed already: judged again, a window closing meanwhile would strand the admitted host.
  const decision =
    deps.policy === undefined || replay
      ? undefined
      : await judgeAdmission(deps.policy, request, host, deps.clock.nowMs());
  const refusal = decision === undefined || request.dryRun ? undefined : refusalOf(decision);
  if (refusal !== undefined) {
    await giveBackWhatThisExecutionHolds(deps, executionId, host.hostId, host.pool);
    throw refusal;
  }
  const policyDetail = decision === undefined ? {} : decisionDetail(decision);
  const lock = await store.hostLock.acquire(host.hostId, executionId, config.leaseDurationMs);
  let poolSlot: Lease;
  try {
    poolSlot = await store.poolSemaphore.acquire(
      host.pool,
      executionId,
      poolLimit(config, host.pool),
      config.leaseDurationMs,
    );
  } catch (error) {
    // Waiting for a slot must not keep the host locked against everyone else.
    await store.hostLock.release(lock);
    throw error;
  }
  const ctx: WorkflowContext = {
    executionId,
    request,
    instanceId: host.instanceId,
    pool: host.pool,
    hostState: host.state,
    hostVersion: host.stateVersion,
    lock,
    poolSlot,
    startedAt: new Date(deps.clock.nowMs()).toISOString(),
  };
  if (request.dryRun) {
    if (host.state !== 'IN_SERVICE') await refuse(deps, ctx);
    await auditStep(deps, ctx, {
      key: 'admitted',
      step: 'Admit',
      outcome: 'skipped',
      detail: { dryRun: true, level: request.level, wouldTransition: 'IN_SERVICE>ADMITTED', ...policyDetail },
    });
    return ctx;
  }
  if (!replay && host.state !== 'IN_SERVICE') await refuse(deps, ctx);
  const before = replay ? { hostState: 'IN_SERVICE' as const, hostVersion: host.stateVersion - 1 } : {};
  return advance(deps, { ...ctx, ...before }, 'ADMITTED', {
    step: 'Admit',
    detail: { level: request.level, poolSlot: poolSlot.resource, ...policyDetail },
  });
}

/**
 * A policy refusal holds nothing: an earlier attempt of this Admit that crashed after taking the lock or
 * a slot (and before moving the host) left them held by this execution; they are given back.
 */
async function giveBackWhatThisExecutionHolds(
  deps: WorkflowDeps,
  executionId: string,
  hostId: string,
  pool: string,
): Promise<void> {
  const slots = await deps.store.poolSemaphore.holders(pool, poolLimit(deps.config, pool));
  for (const slot of slots) if (slot.owner === executionId) await deps.store.poolSemaphore.release(slot);
  const lock = await deps.store.hostLock.current(hostId);
  if (lock?.owner === executionId) await deps.store.hostLock.release(lock);
}

/** Gives back what Admit took before saying no, so a refusal holds nothing. */
async function refuse(deps: WorkflowDeps, ctx: WorkflowContext): Promise<never> {
  await deps.store.poolSemaphore.release(ctx.poolSlot);
  await deps.store.hostLock.release(ctx.lock);
  throw new HostNotInServiceError(ctx.request.hostId, ctx.hostState);
}
