import type { PendingEntry } from '../campaign/pending-entry.js';

/** Where the requests that could not run yet wait: one entry per host (pending-entry.ts). */
export interface PendingStore {
  get(hostId: string): Promise<PendingEntry | undefined>;
  /**
   * Writes `entry` if the stored one is still at `expectedVersion` (undefined: no entry yet). False when
   * another writer got there first: read again and decide again.
   */
  put(entry: PendingEntry, expectedVersion: number | undefined): Promise<boolean>;
  /** The waiting entries, of one pool or of all, by pool then host. */
  listWaiting(pool?: string): Promise<PendingEntry[]>;
  /** Entries dropped lately (kept for a while so an operator sees why). */
  listDropped(): Promise<PendingEntry[]>;
}
