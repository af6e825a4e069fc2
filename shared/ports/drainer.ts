import type { Host } from '../domain/host.js';
import type { Lease } from '../domain/lease.js';

/** Moves load off a host before its VMs are paused, and back afterwards. Implementations compose. */
export interface Drainer {
  /** Starts draining; idempotent. */
  drain(host: Host, executionId: string, lock: Lease): Promise<void>;
  /** True once no new work reaches the host and in-flight work has left it. */
  isDrained(host: Host): Promise<boolean>;
  /** Reverses drain; idempotent. */
  undrain(host: Host, executionId: string, lock: Lease): Promise<void>;
}
