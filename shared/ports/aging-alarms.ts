/**
 * Where the per-host aging alarms live (CloudWatch): the host sync lists those under its prefix, puts the
 * ones it wants and deletes the ones no host wants any more.
 */
import type { ExistingAlarm } from '../aging/aging-alarm-plan.js';
import type { AlarmConfiguration } from '../aging/aging-alarms.js';

export interface AgingAlarms {
  /** Every metric alarm whose name begins with `prefix`, every page followed. */
  list(prefix: string): Promise<ExistingAlarm[]>;
  /** Creates or overwrites one alarm (an update keeps its state, as CloudWatch does). */
  put(alarm: AlarmConfiguration): Promise<void>;
  /**
   * Deletes alarms by name, in as many calls as the service's limit needs (names that do not exist are no
   * error): what each call deleted, or why it failed; a failed call fails only its own names.
   */
  delete(names: readonly string[]): Promise<AlarmDeletion[]>;
}

export type AlarmDeletion =
  | { readonly names: readonly string[]; readonly deleted: true }
  | { readonly names: readonly string[]; readonly deleted: false; readonly error: Error };
