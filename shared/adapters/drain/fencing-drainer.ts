/**
 * Fencing for drainers that have none of their own. A load balancer cannot make a call conditional on
 * rejuv's host lock, so a stale execution (its lease expired and taken over) could still deregister or
 * register the host there. A FencingDrainer writes through the lock-fenced host registry and can prove,
 * with one idempotent fenced write, that the lock is still live; CompositeDrainer makes that proof right
 * before the first unfenced drainer runs.
 */
import type { Host } from '../../domain/host.js';
import type { Lease } from '../../domain/lease.js';
import type { Drainer } from '../../ports/drainer.js';

export interface FencingDrainer extends Drainer {
  /**
   * A fenced write that leaves the host as a drain in progress would: throws LeaseLostError when `lock` is
   * no longer the live lock, StaleHostStateError when `executionId` does not own the host.
   */
  assertLockHeld(host: Host, executionId: string, lock: Lease): Promise<void>;
}

export function isFencingDrainer(drainer: Drainer): drainer is FencingDrainer {
  return typeof (drainer as Partial<FencingDrainer>).assertLockHeld === 'function';
}
