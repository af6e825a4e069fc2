import { describe, expect, it } from 'vitest';
import {
  alarmFingerprint,
  planAlarmSync,
  type ExistingAlarm,
} from '../../../shared/aging/aging-alarm-plan.js';
import {
  AgingAlarmSettingsSchema,
  DEFAULT_AGING_ALARM_THRESHOLDS,
  type AgingAlarmSettings,
} from '../../../shared/aging/aging-alarm-settings.js';
import {
  desiredAlarms,
  MANAGED_ALARM_MARKER,
  type DesiredAlarm,
} from '../../../shared/aging/aging-alarms.js';
import { AGING_NAMESPACE } from '../../../shared/aging/metric-data.js';

const settings: AgingAlarmSettings = AgingAlarmSettingsSchema.parse({
  prefix: 'rejuv-aging-',
  namespace: AGING_NAMESPACE,
  defaults: DEFAULT_AGING_ALARM_THRESHOLDS,
  pools: { batch: { memAvailableBelowPercent: 4, evaluationPeriods: 5, datapointsToAlarm: 4 } },
});

const existingOf = (alarms: readonly DesiredAlarm[]): ExistingAlarm[] =>
  alarms.map((a) => ({ name: a.name, description: a.description, configuration: a }));

describe('Domain: desiredAlarms', () => {
  it('names one alarm per resource under the prefix, on the host series, with the defaults', () => {
    const alarms = desiredAlarms({ hostId: 'hv-1', pool: 'web' }, settings);
    expect(alarms.map((a) => a.name)).toEqual([
      'rejuv-aging-hv-1-memAvailable',
      'rejuv-aging-hv-1-sUnreclaim',
      'rejuv-aging-hv-1-fragmentation',
    ]);
    const [mem, slab, frag] = alarms;
    expect(mem).toMatchObject({
      comparison: 'LessThanThreshold',
      threshold: 10,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    });
    // A share of MemTotal, read from the host's own two series: the trigger finds the host by HostId.
    expect(mem?.metrics.find((m) => m.returnData)?.expression).toBe('100 * part / total');
    for (const m of mem?.metrics.filter((q) => q.metricStat !== undefined) ?? [])
      expect(m.metricStat).toMatchObject({
        namespace: AGING_NAMESPACE,
        periodSeconds: 300,
        dimensions: [
          { name: 'HostId', value: 'hv-1' },
          { name: 'Pool', value: 'web' },
        ],
      });
    expect(slab).toMatchObject({ comparison: 'GreaterThanThreshold', threshold: 6.4 });
    expect(frag?.metrics).toEqual([
      expect.objectContaining({
        returnData: true,
        metricStat: expect.objectContaining({ metricName: 'UnusableFreeIndexOrder9' }),
      }),
    ]);
    expect(alarms.every((a) => a.description.startsWith(MANAGED_ALARM_MARKER))).toBe(true);
  });

  it("takes a pool's own thresholds over the defaults", () => {
    const [mem, slab] = desiredAlarms({ hostId: 'hv-2', pool: 'batch' }, settings);
    expect(mem).toMatchObject({ threshold: 4, evaluationPeriods: 5, datapointsToAlarm: 4 });
    expect(slab).toMatchObject({ threshold: 6.4, evaluationPeriods: 5 });
  });

  it('refuses settings a pool makes inconsistent, and a prefix too long for a host id', () => {
    expect(() =>
      AgingAlarmSettingsSchema.parse({ ...settings, pools: { web: { datapointsToAlarm: 4 } } }),
    ).toThrow(/datapointsToAlarm must not exceed evaluationPeriods/);
    expect(() => AgingAlarmSettingsSchema.parse({ ...settings, prefix: 'x'.repeat(178) })).toThrow();
    expect(() =>
      AgingAlarmSettingsSchema.parse({ ...settings, defaults: { ...settings.defaults, periodSeconds: 90 } }),
    ).toThrow(/multiple of 60/);
  });
});

describe('Domain: planAlarmSync', () => {
  const a = desiredAlarms({ hostId: 'hv-a', pool: 'web' }, settings);
  const b = desiredAlarms({ hostId: 'hv-b', pool: 'web' }, settings);

  it('puts the missing, then nothing on its own result (idempotent)', () => {
    const first = planAlarmSync('rejuv-aging-', [...a, ...b], existingOf(a));
    expect(first.put.map((x) => x.name)).toEqual(b.map((x) => x.name));
    expect(first.delete).toEqual([]);
    expect(planAlarmSync('rejuv-aging-', [...a, ...b], existingOf([...a, ...b]))).toEqual({
      put: [],
      delete: [],
      foreign: [],
    });
  });

  it("puts an alarm whose configuration differs, and only that one (a pool's threshold changed)", () => {
    const changed = desiredAlarms({ hostId: 'hv-a', pool: 'batch' }, settings);
    const plan = planAlarmSync('rejuv-aging-', changed, existingOf(a));
    // memAvailable's threshold and every period count changed; the names stay.
    expect(plan.put.map((x) => x.name)).toEqual(a.map((x) => x.name));
    expect(alarmFingerprint(a[0] as DesiredAlarm)).not.toBe(alarmFingerprint(changed[0] as DesiredAlarm));
    // An alarm DescribeAlarms shows in a shape rejuv would not make is replaced.
    const odd = planAlarmSync('rejuv-aging-', a, [
      { name: a[0]?.name ?? '', description: MANAGED_ALARM_MARKER },
    ]);
    expect(odd.put.map((x) => x.name)).toEqual(a.map((x) => x.name));
  });

  it('deletes the managed alarms of hosts no longer wanted, and never one outside the prefix or made by hand', () => {
    const existing: ExistingAlarm[] = [
      ...existingOf([...a, ...b]),
      { name: 'rejuv-aging-hv-manual', description: 'made by an operator' },
      { name: 'other-hv-b-memAvailable', description: `${MANAGED_ALARM_MARKER} a copy elsewhere` },
    ];
    const plan = planAlarmSync('rejuv-aging-', a, existing);
    expect(plan.put).toEqual([]);
    expect(plan.delete).toEqual(b.map((x) => x.name).sort());
    expect(plan.foreign).toEqual(['rejuv-aging-hv-manual']);
  });

  it('does not overwrite a hand-made alarm that has the name a host would get', () => {
    const plan = planAlarmSync('rejuv-aging-', a, [{ name: a[0]?.name ?? '', description: 'mine' }]);
    expect(plan.put.map((x) => x.name)).toEqual([a[1]?.name, a[2]?.name]);
    expect(plan.foreign).toEqual([a[0]?.name]);
  });
});
