import type { Host, HostRegistration, HostUnavailability, TransitionRequest } from '../domain/host.js';
import type { Lease } from '../domain/lease.js';

/** The registry of hosts and the only way to move one through its lifecycle. */
export interface HostRepository {
  /** Adds a host in IN_SERVICE; refuses an id that is already registered. */
  register(registration: HostRegistration): Promise<Host>;
  /** Throws HostNotFoundError when the host is not registered. */
  get(hostId: string): Promise<Host>;
  listByPool(pool: string): Promise<Host[]>;
  /** Every registered host, ordered by id. */
  list(): Promise<Host[]>;
  /**
   * Moves a host along one edge of the lifecycle table, as one conditional write: the host must be in
   * `from` at `expectedVersion`, owned by `executionId` where the edge requires it, and `lease` must be
   * the live lock on the host. Replaying a transition that already took effect returns the host as is.
   */
  transition(request: TransitionRequest, lease: Lease): Promise<Host>;
  /**
   * Sets or clears the cordon that keeps new placements off the host. Only the execution that owns the
   * host, under the live lock, may change it.
   */
  setCordoned(hostId: string, cordoned: boolean, executionId: string, lease: Lease): Promise<Host>;
  /**
   * Marks the host unavailable (its instance offline or no longer managed) or, with `undefined`, available
   * again. Only while the host is IN_SERVICE at `expectedVersion` with no owning execution: a host in any
   * other state is refused with StaleHostStateError and left as it is. Neither state nor version moves.
   */
  setAvailability(
    hostId: string,
    expectedVersion: number,
    unavailable: HostUnavailability | undefined,
  ): Promise<Host>;
  /**
   * Records that `executionId` rejuvenated the host: `lastRejuvenatedAt` becomes the time of the host's
   * move back to IN_SERVICE, in one conditional write that holds only while that move, by this execution,
   * is still the host's last (a retried Release writes the same value). False when it is not.
   */
  recordRejuvenation(hostId: string, executionId: string): Promise<boolean>;
  /**
   * Removes the host from the registry, as one conditional delete: the host must be at `expectedVersion`
   * and either IN_SERVICE with no owning execution or QUARANTINED; anything else is refused with
   * StaleHostStateError (HostNotFoundError when it is gone) and left as it is. Returns the host as it was.
   * Its audit chain is kept.
   */
  deregister(hostId: string, expectedVersion: number): Promise<Host>;
}
