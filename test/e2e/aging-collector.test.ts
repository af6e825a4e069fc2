/**
 * The aging collector as deployed (its bundle, under its role's IAM) against the local SSM, DynamoDB Local
 * and the local CloudWatch, on two lab hosts with real QEMU VMs: one round sent by tag, published by the
 * next run; a host whose reply names another instance is refused and publishes nothing; a retried run
 * publishes nothing twice and starts no second round.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { localCloudWatchClient } from '../../local/cloudwatch-endpoint.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { CloudWatchAgingMetrics } from '../../shared/adapters/cloudwatch/cloudwatch-aging-metrics.js';
import type { CollectRoundResult } from '../../shared/aging/collect-round.js';
import { AGING_NAMESPACE, COLLECTOR_REFUSALS_METRIC } from '../../shared/aging/metric-data.js';
import { eventually } from '../integration/ssm/ssm-test-kit.js';
import { addFleetHost, type FleetHost } from './support/local-fleet.js';

let env: LocalEnvironment;
let honest: FleetHost;
let forger: FleetHost;

beforeAll(async () => {
  env = await startLocalEnvironment();
  honest = await addFleetHost(env, { hostId: 'collect-a', pool: 'aging', vms: [{ name: 'vm1' }] });
  forger = await addFleetHost(env, { hostId: 'collect-b', pool: 'aging', vms: [{ name: 'vm1' }] });
});

// Every call the collector made was one its deployed role may make: IAM refused nothing.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

/** What EventBridge's schedule delivers at `time`: every delivery of one tick carries the same time. */
const tick = (time: string) => ({
  version: '0',
  id: `sched-${time}`,
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time,
  region: 'local',
  resources: ['arn:aws:events:local:000000000000:rule/AgingCollectionSchedule'],
  detail: {},
});

const collect = async (time: string) =>
  (await env.lambda.invoke('AgingCollectorFunction', tick(time))) as CollectRoundResult;

const roundEnded = (commandId: string) =>
  eventually(
    () => env.ssm.commands().filter((i) => i.commandId === commandId),
    (invocations) =>
      invocations.length === 2 && invocations.every((i) => !['Pending', 'InProgress'].includes(i.status)),
  );

async function samples(hostId: string, pool: string): Promise<number> {
  const cloudWatch = localCloudWatchClient(
    env.cloudWatch.endpoint,
    { accessKeyId: 'local', secretAccessKey: 'local' },
    'local',
  );
  try {
    const now = Date.now();
    const [series] = await new CloudWatchAgingMetrics(cloudWatch).readSeries({
      hostId,
      pool,
      metrics: [{ metricName: 'MemAvailableBytes' }],
      start: new Date(now - 3_600_000),
      end: new Date(now + 60_000),
      periodSeconds: 3600,
      stat: 'SampleCount',
    });
    return (series?.points ?? []).reduce((sum, p) => sum + p.v, 0);
  } finally {
    cloudWatch.destroy();
  }
}

describe('End to end: the aging collector on a schedule', () => {
  it('publishes a round by the next run, refuses a forged reply, and a retried run publishes nothing twice', async () => {
    // The forger's agent says it runs on the honest host's instance: its measurement must not land there.
    env.ssm.setAgentEnvironment(forger.instanceId, { AWS_SSM_INSTANCE_ID: honest.instanceId });

    const first = await collect('2026-12-01T10:00:00Z');
    expect(first.finished).toBeUndefined();
    expect(first.started).toMatchObject({ roundKey: '2026-12-01T10:00:00Z', resumed: false });
    const commandId = first.started?.commandId ?? '';
    const invocations = await roundEnded(commandId);
    expect(invocations.map((i) => [i.instanceId, i.documentName]).sort()).toEqual(
      [honest.instanceId, forger.instanceId].sort().map((id) => [id, env.documentNames['CollectAging']]),
    );

    const second = await collect('2026-12-01T10:05:00Z');
    expect(second.finished).toMatchObject({
      roundKey: '2026-12-01T10:00:00Z',
      commandId,
      published: [{ hostId: 'collect-a', datapoints: expect.any(Number) }],
      refused: [{ instanceId: forger.instanceId, hostId: 'collect-b', code: 'wrong-host' }],
      publishFailed: [],
    });
    expect(second.started).toMatchObject({ roundKey: '2026-12-01T10:05:00Z', resumed: false });
    expect(second.started?.commandId).not.toBe(commandId);
    expect(await samples('collect-a', 'aging')).toBe(1);
    expect(await samples('collect-b', 'aging')).toBe(0);
    const wrongHost = env.cloudWatch.datapoints(AGING_NAMESPACE, COLLECTOR_REFUSALS_METRIC, {
      Reason: 'wrong-host',
    });
    expect(wrongHost.map((d) => d.v)).toEqual([1]);

    // EventBridge delivers the same tick again (or Lambda retries it): nothing is published again, and the
    // round already started is the one reported, not a second one.
    const retried = await collect('2026-12-01T10:05:00Z');
    expect(retried.finished).toBeUndefined();
    expect(retried.started).toEqual({ ...second.started, resumed: true });
    expect(await samples('collect-a', 'aging')).toBe(1);
    expect(
      env.ssm.commands().filter((i) => i.documentName === env.documentNames['CollectAging']),
    ).toHaveLength(4);
  });
});
