/**
 * The local CloudWatch's alarms through the real client and rejuv's adapter: the host sync's reconciliation
 * puts, keeps and deletes them; the evaluator judges M of N periods with missing data and sends
 * "CloudWatch Alarm State Change" events as CloudWatch does; IAM is enforced on alarm ARNs.
 */
import {
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  type CloudWatchClient,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmStateChangeEvent } from '../../../local/cloudwatch-alarms.js';
import {
  localCloudWatchClient,
  startLocalCloudWatchEndpoint,
  type RunningLocalCloudWatch,
} from '../../../local/cloudwatch-endpoint.js';
import { LocalIam } from '../../../local/iam/local-iam.js';
import { CloudWatchAgingAlarms } from '../../../shared/adapters/cloudwatch/cloudwatch-aging-alarms.js';
import {
  AgingAlarmSettingsSchema,
  DEFAULT_AGING_ALARM_THRESHOLDS,
} from '../../../shared/aging/aging-alarm-settings.js';
import { AGING_NAMESPACE } from '../../../shared/aging/metric-data.js';
import type { Host } from '../../../shared/domain/host.js';
import { reconcileAgingAlarms } from '../../../shared/onboarding/reconcile-aging-alarms.js';
import { AlarmStateChangeEventSchema } from '../../../shared/workflow/alarm-event.js';

const ACCOUNT = '000000000000';
const PERIOD_MS = 60_000;
// A controlled clock in the middle of the current minute (the evaluator's newest period is the one holding
// `now`), close enough to real time for the signatures (5 minutes), moved by the test only.
let nowMs = Math.floor(Date.now() / PERIOD_MS) * PERIOD_MS + PERIOD_MS / 2;
const iam = new LocalIam(ACCOUNT);
let cloudWatch: RunningLocalCloudWatch;
let admin: CloudWatchClient;
const events: AlarmStateChangeEvent[] = [];

beforeAll(async () => {
  cloudWatch = await startLocalCloudWatchEndpoint({
    iam,
    region: 'local',
    arns: { partition: 'aws', region: 'local', accountId: ACCOUNT },
    now: () => new Date(nowMs),
  });
  cloudWatch.onAlarmStateChange((e) => events.push(e));
  admin = localCloudWatchClient(cloudWatch.endpoint, undefined, 'local');
});
afterAll(async () => {
  admin.destroy();
  await cloudWatch.stop();
});
beforeEach(() => {
  events.length = 0;
});

const settings = AgingAlarmSettingsSchema.parse({
  prefix: 'rejuv-aging-',
  namespace: AGING_NAMESPACE,
  defaults: {
    ...DEFAULT_AGING_ALARM_THRESHOLDS,
    periodSeconds: 60,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
  },
});

const host = (hostId: string, extra: Partial<Host> = {}): Host =>
  ({
    hostId,
    pool: 'web',
    availabilityZone: 'local-1a',
    instanceId: 'mi-1',
    state: 'IN_SERVICE',
    ...extra,
  }) as Host;

async function put(hostId: string, metricName: string, value: number, at: number): Promise<void> {
  await admin.send(
    new PutMetricDataCommand({
      Namespace: AGING_NAMESPACE,
      MetricData: [
        {
          MetricName: metricName,
          Dimensions: [
            { Name: 'HostId', Value: hostId },
            { Name: 'Pool', Value: 'web' },
          ],
          Timestamp: new Date(at),
          Value: value,
        },
      ],
    }),
  );
}

describe('Local CloudWatch alarms: the host sync reconciliation through the adapter', () => {
  it('puts each host its alarms, changes nothing the second time, deletes a gone host, leaves hand-made ones', async () => {
    const alarms = new CloudWatchAgingAlarms(admin);
    await admin.send(
      new PutMetricAlarmCommand({
        AlarmName: 'rejuv-aging-by-hand',
        MetricName: 'MemAvailableBytes',
        Namespace: AGING_NAMESPACE,
        Statistic: 'Minimum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
      }),
    );
    const first = await reconcileAgingAlarms([host('r-1'), host('r-2')], alarms, settings);
    expect(first.put).toHaveLength(6);
    expect(first.failed).toEqual([]);
    expect(first.foreign).toEqual(['rejuv-aging-by-hand']);
    const again = await reconcileAgingAlarms([host('r-1'), host('r-2')], alarms, settings);
    expect(again).toMatchObject({ put: [], deleted: [], failed: [] });

    // r-2 deregistered, r-1's managed tag removed: neither is watched any more.
    const third = await reconcileAgingAlarms(
      [
        host('r-1', {
          unavailable: { reason: 'not-managed', since: '2026-12-01T00:00:00Z' },
        } as Partial<Host>),
      ],
      alarms,
      settings,
    );
    expect(third.deleted).toHaveLength(6);
    const left = await admin.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'rejuv-aging-' }));
    expect(left.MetricAlarms?.map((a) => a.AlarmName)).toEqual(['rejuv-aging-by-hand']);
  });

  it('refuses a caller whose policy does not cover the alarm ARN, and pages DescribeAlarms', async () => {
    const limited = iam.createUser('alarm-writer', [
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'],
            Resource: `arn:aws:cloudwatch:local:${ACCOUNT}:alarm:rejuv-aging-*`,
          },
          { Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: '*' },
        ],
      },
    ]);
    const client = localCloudWatchClient(cloudWatch.endpoint, limited, 'local');
    try {
      const alarms = new CloudWatchAgingAlarms(client);
      const many = Array.from({ length: 40 }, (_, i) => host(`p-${String(i).padStart(2, '0')}`));
      const made = await reconcileAgingAlarms(many, alarms, settings);
      expect(made.put).toHaveLength(120);
      // 120 alarms over pages of 100: every one is seen, so nothing is put again.
      expect((await alarms.list('rejuv-aging-p-')).length).toBe(120);
      expect((await reconcileAgingAlarms(many, alarms, settings)).put).toEqual([]);
      // 120 names: two DeleteAlarms calls.
      const before = cloudWatch.calls('DeleteAlarms');
      expect((await reconcileAgingAlarms([], alarms, settings)).deleted).toHaveLength(120);
      expect(cloudWatch.calls('DeleteAlarms') - before).toBe(2);

      await expect(
        client.send(
          new PutMetricAlarmCommand({
            AlarmName: 'someone-elses',
            MetricName: 'X',
            Namespace: 'Y',
            Statistic: 'Average',
            Period: 60,
            EvaluationPeriods: 1,
            Threshold: 1,
            ComparisonOperator: 'LessThanThreshold',
          }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      client.destroy();
    }
  });
});

describe('Local CloudWatch alarms: the evaluator', () => {
  it('raises ALARM on M of N breaching periods of a metric-math share, with missing periods not breaching', async () => {
    const alarms = new CloudWatchAgingAlarms(admin);
    await reconcileAgingAlarms([host('e-1')], alarms, settings);
    const name = 'rejuv-aging-e-1-memAvailable';
    // No data, notBreaching: INSUFFICIENT_DATA -> OK at once, one event per alarm.
    expect(cloudWatch.alarmState(name)).toBe('OK');
    expect(events.filter((e) => e.detail['alarmName'] === name)).toHaveLength(1);
    events.length = 0;

    const total = 8 * 2 ** 30;
    const t = (periodsAgo: number) => nowMs - periodsAgo * PERIOD_MS;
    for (const p of [4, 3, 2, 1, 0]) await put('e-1', 'MemTotalBytes', total, t(p));
    // 30%, 25%, 15%: nothing breaches.
    await put('e-1', 'MemAvailableBytes', 0.3 * total, t(4));
    await put('e-1', 'MemAvailableBytes', 0.25 * total, t(3));
    await put('e-1', 'MemAvailableBytes', 0.15 * total, t(2));
    expect(cloudWatch.alarmState(name)).toBe('OK');
    // 8%: one breaching period of the last three (the newest is missing): still OK.
    await put('e-1', 'MemAvailableBytes', 0.08 * total, t(1));
    expect(cloudWatch.alarmState(name)).toBe('OK');
    // 5%: two of three breach.
    await put('e-1', 'MemAvailableBytes', 0.05 * total, t(0));
    expect(cloudWatch.alarmState(name)).toBe('ALARM');
    expect(events).toHaveLength(1);
    const event = events[0] as AlarmStateChangeEvent;
    // The event the AlarmTrigger parses, naming the host by its dimension.
    const parsed = AlarmStateChangeEventSchema.parse(event);
    expect(parsed.detail.state.value).toBe('ALARM');
    expect(event.detail).toMatchObject({
      alarmName: name,
      previousState: { value: 'OK' },
      state: { reason: expect.stringMatching(/^Threshold Crossed: 2 out of the last 3 datapoints/) },
      configuration: {
        metrics: expect.arrayContaining([
          expect.objectContaining({ id: 'share', expression: '100 * part / total', returnData: true }),
          expect.objectContaining({
            id: 'part',
            metricStat: expect.objectContaining({
              metric: {
                namespace: AGING_NAMESPACE,
                name: 'MemAvailableBytes',
                dimensions: { HostId: 'e-1', Pool: 'web' },
              },
            }),
          }),
        ]),
      },
    });
    expect(event.resources).toEqual([`arn:aws:cloudwatch:local:${ACCOUNT}:alarm:${name}`]);

    // Time passes without data: the breaching periods leave the range and the alarm goes back to OK.
    events.length = 0;
    nowMs += 3 * PERIOD_MS;
    cloudWatch.evaluateAlarms();
    expect(cloudWatch.alarmState(name)).toBe('OK');
    expect(
      events.map((e) => [e.detail['alarmName'], (e.detail['state'] as { value: string }).value]),
    ).toEqual([[name, 'OK']]);
    const described = await admin.send(new DescribeAlarmsCommand({ StateValue: 'OK', AlarmNames: [name] }));
    expect(described.MetricAlarms?.[0]).toMatchObject({
      StateValue: 'OK',
      DatapointsToAlarm: 2,
      EvaluationPeriods: 3,
    });
  });

  it('treats missing data as the alarm says: missing gives INSUFFICIENT_DATA, breaching counts it bad', async () => {
    const base = {
      MetricName: 'Gauge',
      Namespace: 'Test/Alarms',
      Dimensions: [{ Name: 'HostId', Value: 'm-1' }],
      Statistic: 'Average' as const,
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold' as const,
    };
    await admin.send(
      new PutMetricAlarmCommand({ ...base, AlarmName: 'm-missing', TreatMissingData: 'missing' }),
    );
    await admin.send(
      new PutMetricAlarmCommand({ ...base, AlarmName: 'm-breaching', TreatMissingData: 'breaching' }),
    );
    expect(cloudWatch.alarmState('m-missing')).toBe('INSUFFICIENT_DATA');
    expect(cloudWatch.alarmState('m-breaching')).toBe('ALARM');
    // One good datapoint: the missing one judges it OK; the breaching one still counts two missing as bad.
    await admin.send(
      new PutMetricDataCommand({
        Namespace: 'Test/Alarms',
        MetricData: [
          { MetricName: 'Gauge', Dimensions: base.Dimensions, Timestamp: new Date(nowMs), Value: 1 },
        ],
      }),
    );
    expect(cloudWatch.alarmState('m-missing')).toBe('OK');
    expect(cloudWatch.alarmState('m-breaching')).toBe('ALARM');
    // The single-metric event names its metric as CloudWatch does.
    expect(events.find((e) => e.detail['alarmName'] === 'm-missing')?.detail).toMatchObject({
      configuration: {
        metrics: [
          {
            metricStat: {
              metric: { name: 'Gauge', namespace: 'Test/Alarms', dimensions: { HostId: 'm-1' } },
              period: 60,
              stat: 'Average',
            },
            returnData: true,
          },
        ],
      },
    });
  });

  it('refuses what it does not emulate, and bad combinations, storing nothing', async () => {
    const base = {
      AlarmName: 'bad',
      Namespace: 'Test/Alarms',
      MetricName: 'Gauge',
      Statistic: 'Average' as const,
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold' as const,
    };
    await expect(
      admin.send(new PutMetricAlarmCommand({ ...base, DatapointsToAlarm: 3 })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
    await expect(
      admin.send(new PutMetricAlarmCommand({ ...base, AlarmActions: ['arn:aws:sns:local:000000000000:t'] })),
    ).rejects.toThrow(/not emulated/);
    await expect(
      admin.send(
        new PutMetricAlarmCommand({
          AlarmName: 'bad',
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanThreshold',
          Metrics: [
            {
              Id: 'a',
              ReturnData: false,
              MetricStat: { Metric: { Namespace: 'N', MetricName: 'M' }, Period: 60, Stat: 'Average' },
            },
            { Id: 'r', Expression: 'RATE(a)', ReturnData: true },
          ],
        }),
      ),
    ).rejects.toThrow(/RATE is not emulated/);
    expect((await admin.send(new DescribeAlarmsCommand({ AlarmNames: ['bad'] }))).MetricAlarms).toEqual([]);
  });
});
