/**
 * A fleet campaign: a list of hosts to rejuvenate under limits (hosts of a pool, and of an availability
 * zone, in maintenance at once) and a failure tolerance past which it halts. The operator's moves
 * (pause, resume, cancel) are pure functions from one campaign to the next; the planner
 * (plan-campaign.ts) picks which hosts start.
 *
 * Status: `running` starts hosts; `paused` starts none, the hosts in flight finish; `cancelling` starts
 * none and becomes `cancelled` once none is in flight; `halted` (too many failures) starts none, for good;
 * `completed` when no host is pending or in flight; `rejected` when its approval was refused or expired
 * (campaign-approval.ts), before any host started. Hosts: `pending` → `running` → `done` | `failed`;
 * `skipped` hosts are left out (deregistered, or refused for good).
 */
import { z } from 'zod';
import { parseWith } from '../domain/validation.js';
import { CampaignTransitionError } from './campaign-errors.js';

export const CAMPAIGN_HOST_STATES = ['pending', 'running', 'done', 'failed', 'skipped'] as const;
export type CampaignHostState = (typeof CAMPAIGN_HOST_STATES)[number];

export const CAMPAIGN_STATUSES = [
  'running',
  'paused',
  'cancelling',
  'cancelled',
  'halted',
  'completed',
  'rejected',
] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export interface CampaignHost {
  readonly hostId: string;
  readonly pool: string;
  readonly availabilityZone: string;
  readonly state: CampaignHostState;
  /** When its last rejuvenation ended, for the cooldown. */
  readonly lastRejuvenatedAtMs?: number | undefined;
}

const LimitSchema = z.number().int().min(1).max(10_000);
const NameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);

export const CampaignLimitsSchema = z
  .object({
    maxInMaintenancePerPool: z.record(NameSchema, LimitSchema).default({}),
    /** The limit of every pool not listed (the pool semaphore's `defaultMaxHostsInMaintenance`). */
    defaultMaxInMaintenancePerPool: LimitSchema.default(1),
    maxInMaintenancePerAz: z.record(NameSchema, LimitSchema).default({}),
    /** The limit of every availability zone not listed; omitted: zones are not limited. */
    defaultMaxInMaintenancePerAz: LimitSchema.optional(),
  })
  .strict();
export type CampaignLimits = z.output<typeof CampaignLimitsSchema>;

export const FailureToleranceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('count'), max: z.number().int().min(0) }).strict(),
  z.object({ kind: z.literal('percent'), max: z.number().min(0).max(100) }).strict(),
]);
/** How many failed hosts the campaign tolerates: one more and it halts. */
export type FailureTolerance = z.output<typeof FailureToleranceSchema>;

export const CampaignSettingsSchema = z
  .object({ limits: CampaignLimitsSchema, failureTolerance: FailureToleranceSchema })
  .strict();

export function parseCampaignSettings(input: unknown): z.output<typeof CampaignSettingsSchema> {
  return parseWith(CampaignSettingsSchema, 'campaign settings', input);
}

export const APPROVAL_STATES = ['pending', 'approved', 'rejected'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** Whether a person must approve the campaign before any host starts, and what they decided. */
export interface CampaignApproval {
  /** A pool of the campaign requires approval (its policy's `requiresApproval`). */
  readonly required: boolean;
  readonly state: ApprovalState;
  /** Who decided, as AWS authenticated them (`rejuv:approval-timeout` when it expired). */
  readonly by?: string | undefined;
  readonly atMs?: number | undefined;
  readonly reason?: string | undefined;
}

export interface Campaign {
  readonly campaignId: string;
  readonly status: CampaignStatus;
  /** Omitted for a campaign created before approvals existed: none was required. */
  readonly approval?: CampaignApproval | undefined;
  /** Why it is paused, cancelled or halted, in words an operator reads. */
  readonly statusReason?: string | undefined;
  readonly limits: CampaignLimits;
  readonly failureTolerance: FailureTolerance;
  readonly hosts: readonly CampaignHost[];
}

/** A campaign created before approvals existed required none. */
export function approvalOf(campaign: Campaign): CampaignApproval {
  return campaign.approval ?? { required: false, state: 'approved' };
}

/** No host may start: a pool requires approval and nobody has decided yet (campaign-approval.ts). */
export function awaitsApproval(campaign: Campaign): boolean {
  const approval = approvalOf(campaign);
  return approval.required && approval.state === 'pending';
}

export function poolLimit(limits: CampaignLimits, pool: string): number {
  return limits.maxInMaintenancePerPool[pool] ?? limits.defaultMaxInMaintenancePerPool;
}

/** Infinity when the zone is not limited. */
export function azLimit(limits: CampaignLimits, az: string): number {
  return limits.maxInMaintenancePerAz[az] ?? limits.defaultMaxInMaintenancePerAz ?? Infinity;
}

function inFlight(campaign: Campaign): number {
  return campaign.hosts.filter((h) => h.state === 'running').length;
}

/** Stops starting hosts; those in flight finish. */
export function pauseCampaign(campaign: Campaign, reason: string): Campaign {
  if (campaign.status !== 'running')
    throw new CampaignTransitionError(campaign.campaignId, campaign.status, 'pause');
  return { ...campaign, status: 'paused', statusReason: reason };
}

/** Starts hosts again; hosts already done, failed or skipped are never started again. */
export function resumeCampaign(campaign: Campaign): Campaign {
  if (campaign.status !== 'paused')
    throw new CampaignTransitionError(campaign.campaignId, campaign.status, 'resume');
  return { ...campaign, status: 'running', statusReason: undefined };
}

/** Starts nothing more; `cancelled` at once when nothing is in flight, else once the last host ends. */
export function cancelCampaign(campaign: Campaign, reason: string): Campaign {
  if (campaign.status !== 'running' && campaign.status !== 'paused')
    throw new CampaignTransitionError(campaign.campaignId, campaign.status, 'cancel');
  return { ...campaign, status: inFlight(campaign) > 0 ? 'cancelling' : 'cancelled', statusReason: reason };
}

/** The campaign with one host moved to `state` (an execution started or ended, a host deregistered). */
export function withHostState(
  campaign: Campaign,
  hostId: string,
  state: CampaignHostState,
  endedAtMs?: number,
): Campaign {
  let found = false;
  const hosts = campaign.hosts.map((h) => {
    if (h.hostId !== hostId) return h;
    found = true;
    return state === 'done' && endedAtMs !== undefined
      ? { ...h, state, lastRejuvenatedAtMs: endedAtMs }
      : { ...h, state };
  });
  if (!found)
    throw new CampaignTransitionError(campaign.campaignId, campaign.status, `update unknown host ${hostId}`);
  return { ...campaign, hosts };
}
