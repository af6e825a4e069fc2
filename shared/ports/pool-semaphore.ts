import type { Lease } from '../domain/lease.js';

/** At most `limit` hosts of a pool in maintenance at once; slots are leases, so a crashed holder cannot leak one. */
export interface PoolSemaphore {
  /** Takes a free slot, or returns the slot `owner` already holds. Throws PoolFullError when none is free. */
  acquire(pool: string, owner: string, limit: number, durationMs: number): Promise<Lease>;
  renew(lease: Lease, durationMs: number): Promise<Lease>;
  release(lease: Lease): Promise<void>;
  /** The live slot leases of the pool's first `limit` slots. */
  holders(pool: string, limit: number): Promise<Lease[]>;
}
