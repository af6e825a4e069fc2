/**
 * After each host sync: every managed host gets its aging alarms (aging-alarms.ts), with its pool's
 * thresholds, and the alarms of hosts gone from the registry (deregistered) or no longer managed (the
 * managed tag removed) are deleted. One host's failure is reported and the others go on.
 */
import { planAlarmSync } from '../aging/aging-alarm-plan.js';
import type { AgingAlarmSettings } from '../aging/aging-alarm-settings.js';
import { desiredAlarms } from '../aging/aging-alarms.js';
import type { Host } from '../domain/host.js';
import type { AgingAlarms } from '../ports/aging-alarms.js';

export interface AlarmReconciliation {
  /** Alarms created or changed, by name. */
  readonly put: string[];
  readonly deleted: string[];
  /** Alarms under the prefix the sync did not make: left alone. */
  readonly foreign: string[];
  /** Per host (or, for a failed deletion, per alarm), why its alarms are not as desired; the next sync tries again. */
  readonly failed: { readonly hostId?: string; readonly alarm?: string; readonly reason: string }[];
}

/** A host whose managed tag was removed stays registered (an operator deregisters it) but is not watched. */
function watched(host: Host): boolean {
  return host.unavailable?.reason !== 'not-managed';
}

export async function reconcileAgingAlarms(
  registry: readonly Host[],
  alarms: AgingAlarms,
  settings: AgingAlarmSettings,
): Promise<AlarmReconciliation> {
  const desired = registry.filter(watched).flatMap((h) => desiredAlarms(h, settings));
  const plan = planAlarmSync(settings.prefix, desired, await alarms.list(settings.prefix));
  const result: AlarmReconciliation = { put: [], deleted: [], foreign: [...plan.foreign], failed: [] };
  const failedHosts = new Set<string>();
  for (const alarm of plan.put) {
    // A host's first failure stands for the host: its other alarms wait for the next sync.
    if (failedHosts.has(alarm.hostId)) continue;
    try {
      await alarms.put(alarm);
      result.put.push(alarm.name);
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      failedHosts.add(alarm.hostId);
      result.failed.push({ hostId: alarm.hostId, reason: `${alarm.name}: ${error.message}` });
    }
  }
  if (plan.delete.length > 0) {
    for (const outcome of await alarms.delete(plan.delete)) {
      if (outcome.deleted) result.deleted.push(...outcome.names);
      else
        for (const name of outcome.names) result.failed.push({ alarm: name, reason: outcome.error.message });
    }
  }
  return result;
}
