/**
 * Compensation must be able to act even when its execution lost the host lock: a stalled Lambda or a
 * long pause lets the lease expire, and another execution may have taken the lock and, refused by the
 * host's state, given it back. While the host record still names this execution as owner, no other
 * execution can move the host (transitions check ownership), so taking the lock again is safe, and it
 * is the only way the host gets back to service or quarantine instead of staying half-done.
 */
import { PoolFullError } from '../domain/errors.js';
import type { WorkflowContext } from './workflow-context.js';
import { poolLimit } from './workflow-config.js';
import type { WorkflowDeps } from './workflow-deps.js';

/**
 * The context with a live lock for its execution: the same lease when it is still live, else a new one
 * (a higher fencing token). Throws LockHeldError while another execution holds the lock; the state
 * machine retries, since that holder is refused by the host's state and lets go.
 */
export async function reclaimHostLock(
  deps: Pick<WorkflowDeps, 'store' | 'config'>,
  ctx: WorkflowContext,
): Promise<WorkflowContext> {
  const live = await deps.store.hostLock.current(ctx.request.hostId);
  if (live?.owner === ctx.executionId && live.fencingToken === ctx.lock.fencingToken) return ctx;
  const duration = deps.config.leaseDurationMs;
  const lock = await deps.store.hostLock.acquire(ctx.request.hostId, ctx.executionId, duration);
  // The slot went with the lease; take one back if the pool has room, so the pool counts this host
  // while it is out. If it has none, carry on: advance lets a lost slot through on the way back.
  const poolSlot = await deps.store.poolSemaphore
    .acquire(ctx.pool, ctx.executionId, poolLimit(deps.config, ctx.pool), duration)
    .catch((error: unknown) => {
      if (error instanceof PoolFullError) return ctx.poolSlot;
      throw error;
    });
  return { ...ctx, lock, poolSlot };
}
