import type { Lease } from '../domain/lease.js';

/** A per-host lease: at most one execution works on a host at a time. */
export interface HostLock {
  /**
   * Grants the lock, or renews it when `owner` already holds it (so a retried step is idempotent).
   * Throws LockHeldError when another owner holds a live lease.
   */
  acquire(hostId: string, owner: string, durationMs: number): Promise<Lease>;
  /** Extends a live lease; throws LeaseLostError when it expired or was taken over. */
  renew(lease: Lease, durationMs: number): Promise<Lease>;
  /** Gives the lock up; throws LeaseLostError when someone else holds it now. Releasing twice is fine. */
  release(lease: Lease): Promise<void>;
  /** The live lease on the host, if any. */
  current(hostId: string): Promise<Lease | undefined>;
}
