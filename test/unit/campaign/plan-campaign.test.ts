/** The campaign planner and the operator's moves: limits, a blocker mid-campaign, halting, pause/resume, cancel. */
import { describe, expect, it } from 'vitest';
import {
  cancelCampaign,
  parseCampaignSettings,
  pauseCampaign,
  resumeCampaign,
  withHostState,
  type Campaign,
  type CampaignHost,
} from '../../../shared/campaign/campaign.js';
import { planCampaign } from '../../../shared/campaign/plan-campaign.js';
import { decide, type PolicyFacts } from '../../../shared/policy/decide.js';
import { parsePolicyConfig, policyForPool } from '../../../shared/policy/policy-config.js';

const policy = parsePolicyConfig({ pools: { web: { blockerAlarmPatterns: ['web-*'] } } });

function campaignOf(count: number, settings: Record<string, unknown> = {}): Campaign {
  const { limits, failureTolerance } = parseCampaignSettings({
    limits: { maxInMaintenancePerPool: { web: 2 } },
    failureTolerance: { kind: 'count', max: 5 },
    ...settings,
  });
  const hosts: CampaignHost[] = Array.from({ length: count }, (_, i) => ({
    hostId: `h-${i + 1}`,
    pool: 'web',
    availabilityZone: `az-${(i % 2) + 1}`,
    state: 'pending',
  }));
  return { campaignId: 'c-1', status: 'running', limits, failureTolerance, hosts };
}

function plan(campaign: Campaign, facts: PolicyFacts = { alarmsInAlarm: [], approved: true }) {
  return planCampaign({
    campaign,
    decide: (host) => decide(host, policyForPool(policy, host.pool), 0, facts),
  });
}

/** Carries a plan out: its hosts start, its status is stored. */
function apply(campaign: Campaign, planned: ReturnType<typeof plan>): Campaign {
  let next: Campaign = { ...campaign, status: planned.status, statusReason: planned.statusReason };
  for (const { host } of planned.start) next = withHostState(next, host.hostId, 'running');
  return next;
}

const started = (planned: ReturnType<typeof plan>) => planned.start.map((s) => s.host.hostId);

describe('Function: planCampaign', () => {
  it('starts no more than the pool allows, in campaign order', () => {
    const c = campaignOf(5);
    expect(started(plan(c))).toEqual(['h-1', 'h-2']);
    const c2 = withHostState(apply(c, plan(c)), 'h-1', 'done', 1);
    expect(started(plan(c2))).toEqual(['h-3']);
  });

  it('starts no more than the availability zone allows', () => {
    const c = campaignOf(6, {
      limits: {
        maxInMaintenancePerPool: { web: 5 },
        maxInMaintenancePerAz: { 'az-1': 1 },
        defaultMaxInMaintenancePerAz: 2,
      },
    });
    // az-1 holds h-1, h-3, h-5; az-2 holds h-2, h-4, h-6.
    expect(started(plan(c))).toEqual(['h-1', 'h-2', 'h-4']);
  });

  it('counts hosts in maintenance outside the campaign against the limits', () => {
    const c = campaignOf(5);
    const planned = planCampaign({
      campaign: c,
      decide: (host) =>
        decide(host, policyForPool(policy, host.pool), 0, { alarmsInAlarm: [], approved: true }),
      alsoInMaintenance: [{ pool: 'web', availabilityZone: 'az-9' }],
    });
    expect(started(planned)).toEqual(['h-1']);
  });

  it('starts a priority host first, and once', () => {
    const planned = planCampaign({
      campaign: campaignOf(5, { limits: { maxInMaintenancePerPool: { web: 3 } } }),
      decide: (host) =>
        decide(host, policyForPool(policy, host.pool), 0, { alarmsInAlarm: [], approved: true }),
      priorityHostIds: new Set(['h-2']),
    });
    expect(started(planned)).toEqual(['h-2', 'h-1', 'h-3']);
  });

  it('a blocker raised mid-campaign: hosts in flight finish, no new one starts until it clears', () => {
    let c = apply(campaignOf(5), plan(campaignOf(5)));
    const blocked = { alarmsInAlarm: ['web-5xx'], approved: true };
    c = withHostState(c, 'h-1', 'done', 1);
    const during = plan(c, blocked);
    expect(during.start).toEqual([]);
    expect(during.refusals).toEqual([
      expect.objectContaining({ verdict: 'deny', rule: 'blocker', hostId: 'h-3' }),
    ]);
    c = apply(c, during);
    expect(c.hosts.find((h) => h.hostId === 'h-2')?.state).toBe('running');
    c = withHostState(c, 'h-2', 'done', 2);
    expect(plan(c, blocked).start).toEqual([]);
    expect(started(plan(c))).toEqual(['h-3', 'h-4']);
  });

  it('halts when failures pass the tolerance, naming them; hosts in flight finish, nothing else starts', () => {
    let c = campaignOf(6, { failureTolerance: { kind: 'count', max: 1 } });
    c = apply(c, plan(c));
    c = withHostState(c, 'h-1', 'failed');
    c = apply(c, plan(c)); // one failure is tolerated: h-3 starts
    expect(c.hosts.filter((h) => h.state === 'running').map((h) => h.hostId)).toEqual(['h-2', 'h-3']);
    c = withHostState(c, 'h-2', 'failed');
    const halted = plan(c);
    expect(halted).toMatchObject({ status: 'halted', start: [] });
    expect(halted.statusReason).toBe(
      'halted: 2 of 6 hosts failed (h-1, h-2), more than the 1 failed host(s) tolerated; 1 host(s) in flight finish',
    );
    c = withHostState(apply(c, halted), 'h-3', 'done', 3);
    expect(plan(c)).toMatchObject({ status: 'halted', start: [] });
  });

  it('halts on a percentage too', () => {
    let c = campaignOf(10, { failureTolerance: { kind: 'percent', max: 10 } });
    c = withHostState(c, 'h-1', 'failed');
    expect(plan(c).status).toBe('running');
    c = withHostState(c, 'h-2', 'failed');
    expect(plan(c).status).toBe('halted');
  });

  it('pause then resume: nothing starts while paused, and resuming never starts a host already done', () => {
    let c = apply(campaignOf(4), plan(campaignOf(4)));
    c = pauseCampaign(c, 'change freeze');
    c = withHostState(withHostState(c, 'h-1', 'done', 1), 'h-2', 'done', 2);
    expect(plan(c)).toMatchObject({ status: 'paused', start: [] });
    c = resumeCampaign(c);
    expect(started(plan(c))).toEqual(['h-3', 'h-4']);
    c = withHostState(withHostState(apply(c, plan(c)), 'h-3', 'done', 3), 'h-4', 'done', 4);
    expect(plan(c)).toMatchObject({ status: 'completed', start: [] });
  });

  it('cancel: cancelling while hosts are in flight, cancelled when the last ends; then nothing moves it', () => {
    let c = apply(campaignOf(4), plan(campaignOf(4)));
    c = cancelCampaign(c, 'wrong kernel');
    expect(c.status).toBe('cancelling');
    c = withHostState(c, 'h-1', 'done', 1);
    c = apply(c, plan(c));
    expect(c.status).toBe('cancelling');
    c = withHostState(c, 'h-2', 'done', 2);
    c = apply(c, plan(c));
    expect(c).toMatchObject({ status: 'cancelled', statusReason: 'wrong kernel' });
    expect(c.hosts.filter((h) => h.state === 'pending')).toHaveLength(2);
    expect(() => resumeCampaign(c)).toThrow('campaign c-1 is cancelled: cannot resume');
    expect(() => cancelCampaign(c, 'again')).toThrow(
      expect.objectContaining({ name: 'CampaignTransitionError' }),
    );
  });

  it('cancel with nothing in flight is cancelled at once', () => {
    expect(cancelCampaign(campaignOf(2), 'not needed').status).toBe('cancelled');
  });

  it('asks the gate once per pool when a pool-wide rule refuses, and wakes at the earliest wait', () => {
    const windowed = parsePolicyConfig({
      pools: { web: { windows: [{ days: ['mon'], start: '01:00', end: '02:00', timeZone: 'UTC' }] } },
    });
    let asked = 0;
    const planned = planCampaign({
      campaign: campaignOf(5),
      decide: (host) => {
        asked++;
        return decide(host, policyForPool(windowed, host.pool), Date.parse('2026-06-01T00:00:00Z'), {
          alarmsInAlarm: [],
          approved: true,
        });
      },
    });
    expect(asked).toBe(1);
    expect(planned.wakeAtMs).toBe(Date.parse('2026-06-01T01:00:00Z'));
  });

  it('refuses bad settings with the field named', () => {
    expect(() =>
      parseCampaignSettings({ limits: {}, failureTolerance: { kind: 'percent', max: 120 } }),
    ).toThrow(/failureTolerance\.max/);
  });
});
