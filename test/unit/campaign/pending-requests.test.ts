/** No lost rejuvenations: a request that cannot run now waits, deduplicated per host, and runs once later. */
import { describe, expect, it } from 'vitest';
import { planCampaign } from '../../../shared/campaign/plan-campaign.js';
import { parseCampaignSettings, type Campaign } from '../../../shared/campaign/campaign.js';
import {
  dropQueued,
  EMPTY_PENDING_REQUESTS,
  enqueueRequest,
  markRan,
  type RejuvenationRequest,
} from '../../../shared/campaign/pending-requests.js';
import { decide } from '../../../shared/policy/decide.js';
import { parsePolicyConfig, policyForPool } from '../../../shared/policy/policy-config.js';

const at = (iso: string) => Date.parse(iso);
const web = policyForPool(
  parsePolicyConfig({
    pools: { web: { windows: [{ days: ['sat'], start: '02:00', end: '04:00', timeZone: 'UTC' }] } },
  }),
  'web',
);
const alarm = (requestId: string, hostId: string, iso: string): RejuvenationRequest => ({
  requestId,
  hostId,
  source: 'alarm',
  receivedAtMs: at(iso),
});

describe('Pending requests', () => {
  it('a queued alarm runs later, in the next allowed slot, exactly once', () => {
    const friday = '2026-06-05T12:00:00Z';
    const first = alarm('alarm-1', 'h-2', friday);
    const gate = decide({ hostId: 'h-2', pool: 'web' }, web, first.receivedAtMs, {
      alarmsInAlarm: [],
      approved: true,
    });
    expect(gate).toMatchObject({
      verdict: 'wait-until',
      rule: 'window',
      untilMs: at('2026-06-06T02:00:00Z'),
    });
    let queue = enqueueRequest(EMPTY_PENDING_REQUESTS, first, 'window');
    // Delivered again (at least once), and a second alarm for the same host: still one entry.
    queue = enqueueRequest(queue, first, 'window');
    queue = enqueueRequest(queue, alarm('alarm-2', 'h-2', '2026-06-05T13:00:00Z'), 'window');
    expect([...queue.queued.keys()]).toEqual(['h-2']);

    // At the window's opening the planner puts the queued host first.
    const { limits, failureTolerance } = parseCampaignSettings({
      limits: {},
      failureTolerance: { kind: 'count', max: 0 },
    });
    const campaign: Campaign = {
      campaignId: 'alarms',
      status: 'running',
      limits,
      failureTolerance,
      hosts: ['h-1', 'h-2'].map((hostId) => ({
        hostId,
        pool: 'web',
        availabilityZone: 'a',
        state: 'pending' as const,
      })),
    };
    const opening = at('2026-06-06T02:00:00Z');
    const planned = planCampaign({
      campaign,
      decide: (h) => decide(h, web, opening, { alarmsInAlarm: [], approved: true }),
      priorityHostIds: new Set(queue.queued.keys()),
    });
    expect(planned.start.map((s) => s.host.hostId)).toEqual(['h-2']);

    queue = markRan(queue, 'h-2', 'run-7', opening);
    expect(queue.queued.size).toBe(0);
    expect(queue.outcomes).toEqual([
      { requestId: 'alarm-1', hostId: 'h-2', outcome: 'ran', runId: 'run-7', atMs: opening },
      { requestId: 'alarm-2', hostId: 'h-2', outcome: 'ran', runId: 'run-7', atMs: opening },
    ]);
    // A late redelivery of a settled alarm is not run again.
    queue = enqueueRequest(queue, first, 'window');
    expect(queue.queued.size).toBe(0);
    expect(markRan(queue, 'h-2', 'run-8', opening + 1).outcomes).toHaveLength(2);
  });

  it('a run that started before a request arrived does not answer it', () => {
    let queue = enqueueRequest(EMPTY_PENDING_REQUESTS, alarm('a-1', 'h-1', '2026-06-05T12:00:00Z'), 'window');
    queue = enqueueRequest(queue, alarm('a-2', 'h-1', '2026-06-05T14:00:00Z'), 'window');
    queue = markRan(queue, 'h-1', 'run-1', at('2026-06-05T13:00:00Z'));
    expect(queue.outcomes.map((o) => o.requestId)).toEqual(['a-1']);
    expect(queue.queued.get('h-1')?.requests.map((r) => r.requestId)).toEqual(['a-2']);
  });

  it('drops a request with a visible reason, and refuses to drop one without', () => {
    const queue = enqueueRequest(
      EMPTY_PENDING_REQUESTS,
      alarm('a-1', 'h-9', '2026-06-05T12:00:00Z'),
      'window',
    );
    expect(() => dropQueued(queue, 'h-9', ' ', 0)).toThrow('a dropped request needs a reason');
    const dropped = dropQueued(queue, 'h-9', 'host h-9 was deregistered', 5);
    expect(dropped.outcomes).toEqual([
      { requestId: 'a-1', hostId: 'h-9', outcome: 'dropped', reason: 'host h-9 was deregistered', atMs: 5 },
    ]);
    expect(dropped.queued.size).toBe(0);
  });
});
