/**
 * Release: the last step of every execution, whatever happened. Gives back the pool slot and the host
 * lock, records the final outcome, and tells the operators.
 */
import { LeaseLostError, type PreflightRefusedError } from '../domain/errors.js';
import type { Lease } from '../domain/lease.js';
import type { NotificationKind } from '../ports/notifier.js';
import { auditStep } from './audit-step.js';
import { describeCaught } from './compensate.js';
import type { CaughtError, WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

export type RejuvenationOutcome = 'rejuvenated' | 'dry-run' | 'refused' | 'recovered' | 'quarantined';

export interface ReleaseResult {
  readonly outcome: RejuvenationOutcome;
  readonly hostId: string;
  readonly hostState: string;
  readonly executionId: string;
  readonly reason?: string;
}

const NOTIFICATION: Record<RejuvenationOutcome, NotificationKind> = {
  rejuvenated: 'completed',
  'dry-run': 'completed',
  refused: 'refused',
  recovered: 'recovered',
  quarantined: 'quarantined',
};

const RELEASE_AUDIT_OUTCOME = {
  rejuvenated: 'succeeded',
  'dry-run': 'succeeded',
  refused: 'refused',
  recovered: 'compensated',
  quarantined: 'failed',
} as const;

/**
 * Failures that leave the host exactly as it was: the host said no before anything was touched. Names as
 * literals, type-checked against the classes: a class's own `.name` is minified away in AWS.
 */
const REFUSALS: ReadonlySet<string> = new Set([
  'PreflightRefusedError' satisfies PreflightRefusedError['name'],
]);

export async function release(
  deps: WorkflowDeps,
  ctx: WorkflowContext,
  error: CaughtError | undefined,
): Promise<ReleaseResult> {
  const host = await deps.store.hosts.get(ctx.request.hostId);
  const outcome: RejuvenationOutcome =
    host.state === 'QUARANTINED' && host.executionId === ctx.executionId
      ? 'quarantined'
      : error !== undefined
        ? REFUSALS.has(error.Error)
          ? 'refused'
          : 'recovered'
        : ctx.request.dryRun
          ? 'dry-run'
          : 'rejuvenated';
  const reason = error === undefined ? undefined : describeCaught(error);
  // Before the lock is given back, so no other execution has moved the host since its return.
  const recorded =
    outcome === 'rejuvenated' && (await deps.store.hosts.recordRejuvenation(host.hostId, ctx.executionId));
  const lost = [
    await giveBack(ctx.poolSlot, (l) => deps.store.poolSemaphore.release(l)),
    await giveBack(ctx.lock, (l) => deps.store.hostLock.release(l)),
  ].filter((l) => l !== undefined);
  await auditStep(deps, ctx, {
    key: 'released',
    step: 'Release',
    outcome: RELEASE_AUDIT_OUTCOME[outcome],
    ...(reason === undefined ? {} : { reason }),
    detail: {
      outcome,
      hostState: host.state,
      leasesAlreadyLost: lost.join(',') || null,
      ...(recorded ? { lastRejuvenatedAt: host.lastTransition?.at ?? null } : {}),
    },
  });
  await deps.notifier.notify({
    kind: NOTIFICATION[outcome],
    hostId: host.hostId,
    executionId: ctx.executionId,
    subject: `rejuv: host ${host.hostId} ${outcome}`,
    message: [
      `Host ${host.hostId} (pool ${host.pool}) is ${host.state} after execution ${ctx.executionId}: ${outcome}.`,
      ...(reason === undefined ? [] : [`Cause: ${reason}`]),
      ...(host.quarantineReason === undefined ? [] : [`Quarantine reason: ${host.quarantineReason}`]),
    ].join('\n'),
  });
  return {
    outcome,
    hostId: host.hostId,
    hostState: host.state,
    executionId: ctx.executionId,
    ...(reason === undefined ? {} : { reason }),
  };
}

/** Releases one lease; a lease already lost (expired and taken over) is reported, not fatal. */
async function giveBack(
  lease: Lease,
  releaseLease: (lease: Lease) => Promise<void>,
): Promise<string | undefined> {
  try {
    await releaseLease(lease);
    return undefined;
  } catch (error) {
    if (error instanceof LeaseLostError) return lease.resource;
    throw error;
  }
}
