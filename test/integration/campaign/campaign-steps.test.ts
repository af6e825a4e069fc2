/**
 * The campaign machine's steps against DynamoDB Local: what the plan starts, claims and records, and how
 * it honours the limits, the operator's moves and the failure tolerance, pass after pass as the state
 * machine would run them (the children's outcomes fed to the record step as the Catch would give them).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Campaign } from '../../../shared/campaign/campaign.js';
import {
  campaignExecutionName,
  MAX_IDLE_WAIT_SECONDS,
  planCampaignPass,
  recordCampaignHost,
  type CampaignStepDeps,
} from '../../../shared/campaign/campaign-steps.js';
import { systemClock } from '../../../shared/domain/clock.js';
import { parsePolicyConfig } from '../../../shared/policy/policy-config.js';
import { WEEKDAYS } from '../../../shared/policy/zoned-time.js';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { requestDigest } from '../../../shared/workflow/rejuvenation-request.js';
import { freshTables } from '../../support/dynamodb.js';

let store: Store;
let deps: CampaignStepDeps;
const OPERATOR = 'arn:aws:iam::000000000000:user/alice';

beforeEach(async () => {
  store = (await freshTables()).store();
  deps = {
    campaigns: store.campaigns,
    idempotency: store.idempotency,
    dedupeTtlSeconds: 3600,
    clock: systemClock,
  };
});

async function create(campaignId: string, overrides: Partial<Campaign> = {}): Promise<void> {
  await store.campaigns.create({
    campaign: {
      campaignId,
      status: 'running',
      limits: { maxInMaintenancePerPool: {}, defaultMaxInMaintenancePerPool: 1, maxInMaintenancePerAz: {} },
      failureTolerance: { kind: 'count', max: 0 },
      hosts: [
        { hostId: 'web-1', pool: 'web', availabilityZone: 'az-a', state: 'pending' },
        { hostId: 'web-2', pool: 'web', availabilityZone: 'az-b', state: 'pending' },
        { hostId: 'db-1', pool: 'db', availabilityZone: 'az-a', state: 'pending' },
      ],
      ...overrides,
    },
    startedBy: OPERATOR,
    reason: 'quarterly',
    level: 'vmm-process',
    createdAt: new Date().toISOString(),
    executionNames: {},
    outcomes: {},
  });
}

const succeeded = { Status: 'SUCCEEDED' };
const quarantined = {
  Error: 'States.TaskFailed',
  Cause: JSON.stringify({ Status: 'FAILED', Error: 'Quarantined', Cause: 'the host needs a person' }),
};

describe('Campaign steps: plan and record', () => {
  it('starts one host per pool, claims each execution with its request, and marks them running', async () => {
    await create('c1');
    const plan = await planCampaignPass(deps, { campaignId: 'c1' });
    expect(plan.action).toBe('start');
    expect(plan.hosts.map((h) => h.hostId)).toEqual(['web-1', 'db-1']);
    for (const host of plan.hosts) {
      expect(host.executionName).toBe(campaignExecutionName('c1', host.hostId));
      expect(host.request).toMatchObject({
        trigger: 'campaign',
        principal: OPERATOR,
        reason: 'campaign c1: quarterly',
      });
      expect(await store.idempotency.claimOf(host.executionName)).toMatchObject({
        requestDigest: requestDigest(host.request),
      });
    }
    const record = await store.campaigns.get('c1');
    expect(record.campaign.hosts.map((h) => h.state)).toEqual(['running', 'pending', 'running']);
    // Planned again before any host ended (a retried step): nothing more starts, nothing twice.
    expect(await planCampaignPass(deps, { campaignId: 'c1' })).toMatchObject({ action: 'wait', hosts: [] });
  });

  it('runs the rest once hosts end, and completes', async () => {
    await create('c2');
    await planCampaignPass(deps, { campaignId: 'c2' });
    await recordCampaignHost(deps, { campaignId: 'c2', hostId: 'web-1', result: succeeded });
    await recordCampaignHost(deps, { campaignId: 'c2', hostId: 'db-1', result: succeeded });
    const second = await planCampaignPass(deps, { campaignId: 'c2' });
    expect(second.hosts.map((h) => h.hostId)).toEqual(['web-2']);
    await recordCampaignHost(deps, { campaignId: 'c2', hostId: 'web-2', result: succeeded });
    expect(await planCampaignPass(deps, { campaignId: 'c2' })).toMatchObject({
      action: 'end',
      status: 'completed',
    });
    expect((await store.campaigns.get('c2')).campaign.status).toBe('completed');
  });

  it('halts past the failure tolerance, naming the failed host and the child’s error', async () => {
    await create('c3');
    await planCampaignPass(deps, { campaignId: 'c3' });
    const failed = await recordCampaignHost(deps, { campaignId: 'c3', hostId: 'web-1', error: quarantined });
    expect(failed).toEqual({ hostId: 'web-1', state: 'failed', outcome: 'Quarantined (FAILED)' });
    await recordCampaignHost(deps, { campaignId: 'c3', hostId: 'db-1', result: succeeded });
    const plan = await planCampaignPass(deps, { campaignId: 'c3' });
    expect(plan).toMatchObject({ action: 'end', status: 'halted' });
    expect(plan.statusReason).toContain('web-1');
    const record = await store.campaigns.get('c3');
    expect(record.campaign.status).toBe('halted');
    expect(record.outcomes).toEqual({ 'web-1': 'Quarantined (FAILED)' });
    expect(record.campaign.hosts.find((h) => h.hostId === 'web-2')?.state).toBe('pending');
  });

  it('starts nothing while paused, and ends cancelled once nothing is in flight', async () => {
    await create('c4');
    await planCampaignPass(deps, { campaignId: 'c4' });
    expect(await store.campaigns.setStatus('c4', 'running', 'paused', 'incident')).toBe(true);
    await recordCampaignHost(deps, { campaignId: 'c4', hostId: 'web-1', result: succeeded });
    await recordCampaignHost(deps, { campaignId: 'c4', hostId: 'db-1', result: succeeded });
    expect(await planCampaignPass(deps, { campaignId: 'c4' })).toMatchObject({ action: 'wait', hosts: [] });
    expect(await store.campaigns.setStatus('c4', 'paused', 'cancelling', 'freeze')).toBe(true);
    expect(await planCampaignPass(deps, { campaignId: 'c4' })).toMatchObject({
      action: 'end',
      status: 'cancelled',
    });
    const record = await store.campaigns.get('c4');
    expect(record.campaign.hosts.map((h) => h.state)).toEqual(['done', 'pending', 'done']);
  });

  it('waits longer while every pending pool waits for a window, and only the replan interval otherwise', async () => {
    // Every pool's only window opens in two days: nothing starts, and the plan sleeps the longest it may.
    const inTwoDays = WEEKDAYS[new Date(Date.now() + 2 * 24 * 3600 * 1000).getUTCDay()];
    if (inTwoDays === undefined) throw new Error('no weekday');
    const window = { days: [inTwoDays], start: '00:00', end: '24:00', timeZone: 'UTC' };
    const inAlarm: string[] = [];
    const gated = (pools: Record<string, unknown>): CampaignStepDeps => ({
      ...deps,
      policy: {
        gate: { config: parsePolicyConfig({ pools }), alarms: { namesInAlarm: async () => inAlarm } },
        hosts: store.hosts,
      },
    });
    await create('idle');
    const closed = gated({ web: { windows: [window] }, db: { windows: [window] } });
    const idle = await planCampaignPass(closed, { campaignId: 'idle', replanSeconds: 10 });
    expect(idle).toMatchObject({ action: 'wait', hosts: [], waitSeconds: MAX_IDLE_WAIT_SECONDS });

    // One pool held by an alarm, which may clear any moment: the replan interval.
    inAlarm.push('db-errors');
    const blocked = gated({ web: { windows: [window] }, db: { blockerAlarmPatterns: ['db-*'] } });
    expect(await planCampaignPass(blocked, { campaignId: 'idle', replanSeconds: 10 })).toMatchObject({
      action: 'wait',
      waitSeconds: 10,
    });
    // No input of the sort is refused, not clamped.
    await expect(planCampaignPass(closed, { campaignId: 'idle', replanSeconds: 0 })).rejects.toThrow(
      /replanSeconds/,
    );
  });

  it('refuses a second campaign with the same id, leaving the first as it was', async () => {
    await create('c5');
    await expect(create('c5', { hosts: [] })).rejects.toMatchObject({ name: 'CampaignExistsError' });
    expect((await store.campaigns.get('c5')).campaign.hosts).toHaveLength(3);
    await expect(store.campaigns.get('nope')).rejects.toMatchObject({ name: 'CampaignNotFoundError' });
  });
});
