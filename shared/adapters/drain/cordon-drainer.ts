import type { Host } from '../../domain/host.js';
import type { Lease } from '../../domain/lease.js';
import type { HostRepository } from '../../ports/host-repository.js';
import type { FencingDrainer } from './fencing-drainer.js';

/**
 * Cordons the host in the registry so no new placement lands on it, and lifts the cordon afterwards. Every
 * call is one conditional write fenced by the host lock and owned by the execution
 * (`HostRepository.setCordoned`), so a stale execution is refused with LeaseLostError and a foreign one
 * with StaleHostStateError. Writes happen even when the host already has the wanted cordon: the write is
 * what checks the lock, and repeating it changes nothing else, so calls are idempotent.
 *
 * Drained as soon as the cordon is on: placement reads the cordon, and in-flight work is what the other
 * drainers (and the warm reboot, which keeps guests running in memory) take care of.
 */
export class CordonDrainer implements FencingDrainer {
  constructor(private readonly hosts: HostRepository) {}

  async drain(host: Host, executionId: string, lock: Lease): Promise<void> {
    await this.hosts.setCordoned(host.hostId, true, executionId, lock);
  }

  async isDrained(host: Host): Promise<boolean> {
    return host.cordoned;
  }

  async undrain(host: Host, executionId: string, lock: Lease): Promise<void> {
    await this.hosts.setCordoned(host.hostId, false, executionId, lock);
  }

  /** Re-asserts the cordon: while other drainers undrain, the host still takes no new placements. */
  async assertLockHeld(host: Host, executionId: string, lock: Lease): Promise<void> {
    await this.hosts.setCordoned(host.hostId, true, executionId, lock);
  }
}
