/**
 * What the host sync must change so the alarms under the prefix are exactly the desired ones: put the
 * missing and the changed, delete the managed ones no host wants any more (deregistered, no longer
 * managed, a resource dropped). An alarm outside the prefix is never looked at; one under the prefix that
 * the sync did not make (no marker in its description) is never changed or deleted, only reported.
 * Running it again on its own result plans nothing: the sync is idempotent.
 */
import { canonicalJson } from '../domain/canonical-json.js';
import { MANAGED_ALARM_MARKER, type AlarmConfiguration, type DesiredAlarm } from './aging-alarms.js';

export interface AlarmSyncPlan {
  readonly put: readonly DesiredAlarm[];
  readonly delete: readonly string[];
  /** Alarms under the prefix the sync did not make; a desired alarm of the same name is not put. */
  readonly foreign: readonly string[];
}

/** The fields PutMetricAlarm sets, in one comparable form (metrics in order: their ids name them). */
export function alarmFingerprint(alarm: AlarmConfiguration): string {
  return canonicalJson({
    description: alarm.description,
    metrics: alarm.metrics.map((m) => ({
      id: m.id,
      returnData: m.returnData,
      expression: m.expression ?? null,
      label: m.expression === undefined ? null : (m.label ?? null),
      metricStat:
        m.metricStat === undefined
          ? null
          : {
              namespace: m.metricStat.namespace,
              metricName: m.metricStat.metricName,
              dimensions: [...m.metricStat.dimensions]
                .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
                .map((d) => [d.name, d.value]),
              periodSeconds: m.metricStat.periodSeconds,
              stat: m.metricStat.stat,
            },
    })),
    comparison: alarm.comparison,
    threshold: alarm.threshold,
    evaluationPeriods: alarm.evaluationPeriods,
    datapointsToAlarm: alarm.datapointsToAlarm,
    treatMissingData: alarm.treatMissingData,
  });
}

/** An alarm as DescribeAlarms shows it; `configuration` is absent when it is not one rejuv could make. */
export interface ExistingAlarm {
  readonly name: string;
  readonly description: string;
  readonly configuration?: AlarmConfiguration;
}

export function planAlarmSync(
  prefix: string,
  desired: readonly DesiredAlarm[],
  existing: readonly ExistingAlarm[],
): AlarmSyncPlan {
  const underPrefix = existing.filter((a) => a.name.startsWith(prefix));
  const managed = new Map(
    underPrefix.filter((a) => a.description.startsWith(MANAGED_ALARM_MARKER)).map((a) => [a.name, a]),
  );
  const foreign = underPrefix.filter((a) => !managed.has(a.name)).map((a) => a.name);
  const foreignNames = new Set(foreign);
  const wanted = new Set(desired.map((d) => d.name));
  const put = desired.filter((d) => {
    if (!d.name.startsWith(prefix)) throw new Error(`alarm ${d.name} is not under the prefix ${prefix}`);
    if (foreignNames.has(d.name)) return false;
    const current = managed.get(d.name)?.configuration;
    return current === undefined || alarmFingerprint(current) !== alarmFingerprint(d);
  });
  const toDelete = [...managed.keys()].filter((name) => !wanted.has(name)).sort();
  return { put, delete: toDelete, foreign: foreign.sort() };
}
