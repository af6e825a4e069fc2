/**
 * Leases: time-bounded ownership of a resource, each grant carrying a fencing token that only grows,
 * so a holder that stalled past its expiry can be told apart from the one that took over.
 */
import { z } from 'zod';
import { LeaseOwnerSchema } from './identifiers.js';

export interface Lease {
  /** What is leased, e.g. `host#h-17` or `pool#web#slot#2`. */
  readonly resource: string;
  readonly owner: string;
  readonly fencingToken: number;
  readonly expiresAtMs: number;
}

export const LeaseResourceSchema = z
  .string()
  .regex(/^[A-Za-z0-9#:._-]{1,200}$/, 'lease resource: 1-200 chars of A-Z a-z 0-9 # : . _ -');

export const LeaseSchema = z
  .object({
    resource: LeaseResourceSchema,
    owner: LeaseOwnerSchema,
    fencingToken: z.number().int().positive(),
    expiresAtMs: z.number().int().nonnegative(),
  })
  .strict();

/** Bounds on lease durations: long enough for a host step, short enough that a crash does not strand a host. */
export const MIN_LEASE_MS = 1_000;
export const MAX_LEASE_MS = 24 * 60 * 60 * 1000;

export const LeaseDurationSchema = z
  .number()
  .int()
  .min(MIN_LEASE_MS, `lease duration must be at least ${MIN_LEASE_MS} ms`)
  .max(MAX_LEASE_MS, `lease duration must be at most ${MAX_LEASE_MS} ms`);

export function isLive(lease: Pick<Lease, 'expiresAtMs'>, nowMs: number): boolean {
  return lease.expiresAtMs > nowMs;
}

export function hostLockResource(hostId: string): string {
  return `host#${hostId}`;
}

export function poolSlotResource(pool: string, slot: number): string {
  return `pool#${pool}#slot#${slot}`;
}
