/**
 * The aging alarms end to end, as deployed: the host sync (its bundle, under its role) onboards hosts from
 * SSM and gives each its alarms in the local CloudWatch; a falling MemAvailable published for one host
 * crosses its threshold, the evaluator raises ALARM, the synthesized AgingAlarmRule delivers the state
 * change to the AlarmTrigger, which starts that host's rejuvenation; an alarm outside the prefix starts
 * nothing; a deregistered host's alarms are deleted by the next sync.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  type CloudWatchClient,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localCloudWatchClient } from '../../local/cloudwatch-endpoint.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { AGING_NAMESPACE } from '../../shared/aging/metric-data.js';
import type { HostSyncResult } from '../../shared/onboarding/sync-hosts.js';
import type { RejuvenationRequest } from '../../shared/workflow/rejuvenation-request.js';

let env: LocalEnvironment;
let admin: CloudWatchClient;

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: {
      // Minutes rather than five-minute periods, so the test publishes a trend in seconds.
      agingAlarms: { pools: { alarmed: { periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2 } } },
    },
  });
  admin = localCloudWatchClient(env.cloudWatch.endpoint, undefined, 'local');
});

// Every call the sync and the trigger made was one their deployed roles may make.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  admin?.destroy();
  await env?.stop();
});

const scheduledEvent = {
  version: '0',
  id: 'sched-alarms',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time: '2026-12-01T10:00:00Z',
  region: 'local',
  resources: ['arn:aws:events:local:000000000000:rule/HostSyncSchedule'],
  detail: {},
};
const sync = async () => (await env.lambda.invoke('HostSyncFunction', scheduledEvent)) as HostSyncResult;

async function alarmNames(prefix: string): Promise<string[]> {
  const page = await admin.send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, MaxRecords: 100 }));
  return (page.MetricAlarms ?? []).map((a) => a.AlarmName ?? '').sort();
}

const hostDims = (hostId: string) => [
  { Name: 'HostId', Value: hostId },
  { Name: 'Pool', Value: 'alarmed' },
];

describe('End to end: aging alarms from the host sync to a rejuvenation', () => {
  it('creates each onboarded host its alarms; a real trend raises ALARM and starts that host; a forged name starts nothing; deregistered, its alarms go', async () => {
    const managed = { 'rejuv:managed': 'true', 'rejuv:pool': 'alarmed' };
    env.ssm.registerHost('mi-0000000000000b001', await mkdtemp(join(tmpdir(), 'rejuv-alarms-')), {
      ...managed,
      'rejuv:host-id': 'alarm-a',
    });
    env.ssm.registerHost('mi-0000000000000b002', await mkdtemp(join(tmpdir(), 'rejuv-alarms-')), {
      ...managed,
      'rejuv:host-id': 'alarm-b',
    });

    const first = await sync();
    expect(first.registered.sort()).toEqual(['alarm-a', 'alarm-b']);
    expect(first.alarms).toMatchObject({ deleted: [], failed: [] });
    expect(first.alarms?.put).toHaveLength(6);
    const resources = ['fragmentation', 'memAvailable', 'sUnreclaim'];
    expect(await alarmNames('rejuv-aging-')).toEqual([
      ...resources.map((r) => `rejuv-aging-alarm-a-${r}`),
      ...resources.map((r) => `rejuv-aging-alarm-b-${r}`),
    ]);
    // Nothing changed: the next sync puts nothing.
    expect((await sync()).alarms).toMatchObject({ put: [], deleted: [], failed: [] });

    // Someone's alarm on the same series, outside the prefix: its ALARM must reach no trigger.
    await admin.send(
      new PutMetricAlarmCommand({
        AlarmName: 'forged-alarm-a-memAvailable',
        Namespace: AGING_NAMESPACE,
        MetricName: 'MemAvailableBytes',
        Dimensions: hostDims('alarm-a'),
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 2 ** 40,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    );

    // The host's MemAvailable falls from 30% to 5% of MemTotal over five minutes, as the collector would publish it.
    const total = 16 * 2 ** 30;
    const t0 = Date.now();
    const at = (minutesAgo: number) => new Date(t0 - minutesAgo * 60_000);
    await admin.send(
      new PutMetricDataCommand({
        Namespace: AGING_NAMESPACE,
        MetricData: [4, 3, 2, 1, 0].map((m) => ({
          MetricName: 'MemTotalBytes',
          Dimensions: hostDims('alarm-a'),
          Timestamp: at(m),
          Value: total,
        })),
      }),
    );
    const alarmName = 'rejuv-aging-alarm-a-memAvailable';
    for (const [minutesAgo, share] of [
      [4, 0.3],
      [3, 0.25],
      [2, 0.15],
      [1, 0.08],
    ] as const) {
      await admin.send(
        new PutMetricDataCommand({
          Namespace: AGING_NAMESPACE,
          MetricData: [
            {
              MetricName: 'MemAvailableBytes',
              Dimensions: hostDims('alarm-a'),
              Timestamp: at(minutesAgo),
              Value: share * total,
            },
          ],
        }),
      );
    }
    // One period of the last three below 10%: not yet.
    expect(env.cloudWatch.alarmState(alarmName)).toBe('OK');
    expect(env.stepFunctions.executions()).toEqual([]);
    await admin.send(
      new PutMetricDataCommand({
        Namespace: AGING_NAMESPACE,
        MetricData: [
          {
            MetricName: 'MemAvailableBytes',
            Dimensions: hostDims('alarm-a'),
            Timestamp: at(0),
            Value: 0.05 * total,
          },
        ],
      }),
    );
    expect(env.cloudWatch.alarmState(alarmName)).toBe('ALARM');
    await env.eventDeliveriesSettled();

    const raised = env
      .alarmEvents()
      .filter((e) => (e.event.detail['state'] as { value: string }).value === 'ALARM');
    expect(raised.map((e) => [e.event.detail['alarmName'], e.rules.length])).toEqual(
      expect.arrayContaining([
        [alarmName, 1],
        ['forged-alarm-a-memAvailable', 0],
      ]),
    );
    // Exactly one execution: the managed alarm's, for alarm-a, triggered by the alarm.
    const executions = env.stepFunctions.executions();
    expect(executions).toHaveLength(1);
    const request = JSON.parse(executions[0]?.input ?? '{}') as RejuvenationRequest;
    expect(request).toMatchObject({
      hostId: 'alarm-a',
      trigger: 'alarm',
      principal: 'cloudwatch-alarm:000000000000',
    });
    expect(request.reason).toContain(`alarm ${alarmName} entered ALARM`);
    await executions[0]?.done;

    // alarm-b leaves: untagged at SSM and deregistered. The next sync deletes its alarms, and only its.
    env.ssm.setTags('mi-0000000000000b002', { 'rejuv:pool': 'alarmed' });
    await env.store.hosts.deregister('alarm-b', (await env.store.hosts.get('alarm-b')).stateVersion);
    const afterLeave = await sync();
    expect(afterLeave.alarms?.deleted).toEqual(resources.map((r) => `rejuv-aging-alarm-b-${r}`));
    expect(await alarmNames('rejuv-aging-')).toEqual(resources.map((r) => `rejuv-aging-alarm-a-${r}`));
    expect(await alarmNames('forged-')).toEqual(['forged-alarm-a-memAvailable']);
  });
});
