import type { ManagedInstanceView } from '../domain/host-sync-plan.js';

/** SSM's inventory of managed instances: the source hosts are onboarded from. */
export interface ManagedInstances {
  /** Every managed instance carrying the tag key `tagKey`, with its ping status and all its tags. */
  listTagged(tagKey: string): Promise<ManagedInstanceView[]>;
}
