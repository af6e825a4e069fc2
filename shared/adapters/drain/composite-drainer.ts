import { ValidationError } from '../../domain/errors.js';
import type { Host } from '../../domain/host.js';
import type { Lease } from '../../domain/lease.js';
import type { Drainer } from '../../ports/drainer.js';
import { isFencingDrainer } from './fencing-drainer.js';

/**
 * Several drainers as one, e.g. `new CompositeDrainer([new CordonDrainer(hosts), new Elbv2Drainer(…)])`.
 * List them in drain order: `drain` runs them first to last (cordon first, so nothing new is placed while
 * the load balancer drains), `undrain` last to first (cordon lifted last, once the host is back in every
 * target group), and `isDrained` is true only when every one is.
 *
 * Fencing: before the first drainer that cannot fence its own writes runs, a FencingDrainer in the list
 * proves the host lock is live (a cordon drained first is that proof already). A stale execution is thus
 * refused before it touches the load balancer. The proof is as fresh as the call before; leases last far
 * longer than one load-balancer call. Without any FencingDrainer in the list, nothing is fenced.
 *
 * Drainers run one at a time and stop at the first failure; every drainer is idempotent, so the retried
 * step runs them all again from the start.
 */
export class CompositeDrainer implements Drainer {
  private readonly drainers: readonly Drainer[];

  /** @throws ValidationError for an empty list, which would drain nothing and report drained at once */
  constructor(drainers: readonly Drainer[]) {
    if (drainers.length === 0) throw new ValidationError('drainers', ['at least one drainer is required']);
    this.drainers = [...drainers];
  }

  async drain(host: Host, executionId: string, lock: Lease): Promise<void> {
    await this.runFenced(this.drainers, host, executionId, lock, (d) => d.drain(host, executionId, lock));
  }

  async isDrained(host: Host): Promise<boolean> {
    for (const drainer of this.drainers) {
      if (!(await drainer.isDrained(host))) return false;
    }
    return true;
  }

  async undrain(host: Host, executionId: string, lock: Lease): Promise<void> {
    const reversed = [...this.drainers].reverse();
    await this.runFenced(reversed, host, executionId, lock, (d) => d.undrain(host, executionId, lock));
  }

  private async runFenced(
    order: readonly Drainer[],
    host: Host,
    executionId: string,
    lock: Lease,
    step: (drainer: Drainer) => Promise<void>,
  ): Promise<void> {
    const fence = this.drainers.find(isFencingDrainer);
    let lockProven = fence === undefined;
    for (const drainer of order) {
      if (!isFencingDrainer(drainer) && !lockProven) await fence?.assertLockHeld(host, executionId, lock);
      await step(drainer);
      // A fencing drainer's own step was a fenced write: it proved the lock as it went.
      lockProven = true;
    }
  }
}
