/**
 * What an operator does with campaigns through the operator API: start one over hosts or whole pools,
 * read its status, pause, resume, cancel. Each move is a conditional write of the campaign's status (the
 * plan honours it at its next pass; hosts in flight always finish) and an audit record on the campaign's
 * own chain, naming the authenticated caller.
 */
import { z } from 'zod';
import type { Clock } from '../domain/clock.js';
import { HostIdSchema, PoolIdSchema, ReasonSchema } from '../domain/identifiers.js';
import type { Host } from '../domain/host.js';
import { parseWith } from '../domain/validation.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { CampaignStore } from '../ports/campaign-store.js';
import type { ExecutionStarter } from '../ports/execution-starter.js';
import type { PolicyConfig } from '../policy/policy-config.js';
import type { TaskCallbacks } from '../ports/task-callbacks.js';
import type { HostRepository } from '../ports/host-repository.js';
import { RELOAD_LEVELS } from '../workflow/rejuvenation-request.js';
import { CAMPAIGN_CANCELLED_ERROR, describeApproval, initialApproval } from './campaign-approval.js';
import {
  approvalOf,
  awaitsApproval,
  CampaignLimitsSchema,
  cancelCampaign,
  FailureToleranceSchema,
  pauseCampaign,
  resumeCampaign,
  type Campaign,
  type CampaignStatus,
} from './campaign.js';
import { CampaignTransitionError } from './campaign-errors.js';
import { CampaignIdSchema } from './campaign-steps.js';

export interface CampaignOperationDeps {
  readonly campaigns: CampaignStore;
  readonly hosts: Pick<HostRepository, 'get' | 'list'>;
  readonly audit: Pick<AuditLog, 'append'>;
  /** Starts the campaign state machine. */
  readonly campaignExecutions: ExecutionStarter;
  readonly clock: Clock;
  /** The fleet policy: a campaign over a pool that `requiresApproval` waits for one. @default - none required */
  readonly policy?: PolicyConfig | undefined;
  /** Wakes a campaign waiting for approval when it is cancelled. @default - it wakes at its timeout */
  readonly taskCallbacks?: TaskCallbacks | undefined;
}

export function campaignChainId(campaignId: string): string {
  return `campaign#${campaignId}`;
}

export const CampaignStartSchema = z
  .strictObject({
    campaignId: CampaignIdSchema,
    reason: ReasonSchema,
    hostIds: z.array(HostIdSchema).max(10_000).optional(),
    pools: z.array(PoolIdSchema).max(100).optional(),
    level: z.enum(RELOAD_LEVELS).default('vmm-process'),
    limits: CampaignLimitsSchema.default({
      maxInMaintenancePerPool: {},
      defaultMaxInMaintenancePerPool: 1,
      maxInMaintenancePerAz: {},
    }),
    failureTolerance: FailureToleranceSchema.default({ kind: 'count', max: 0 }),
  })
  .refine((s) => (s.hostIds?.length ?? 0) + (s.pools?.length ?? 0) > 0, 'name hostIds or pools (or both)');

/** The hosts a start names, each once, in the order named (hosts first, then each pool's by id). */
export async function campaignHostsOf(
  deps: Pick<CampaignOperationDeps, 'hosts'>,
  input: unknown,
): Promise<Host[]> {
  const start = parseWith(CampaignStartSchema, 'campaign start', input);
  const hosts = new Map<string, Host>();
  for (const hostId of start.hostIds ?? []) hosts.set(hostId, await deps.hosts.get(hostId));
  if ((start.pools?.length ?? 0) > 0) {
    const pools = new Set(start.pools);
    // The whole registry, filtered: whoever may start a campaign may already list it (sync).
    for (const host of await deps.hosts.list())
      if (pools.has(host.pool) && !hosts.has(host.hostId)) hosts.set(host.hostId, host);
  }
  return [...hosts.values()];
}

export async function startCampaign(
  deps: CampaignOperationDeps,
  principal: string,
  input: unknown,
): Promise<object> {
  const start = parseWith(CampaignStartSchema, 'campaign start', input);
  const hosts = await campaignHostsOf(deps, start);
  if (hosts.length === 0) throw new CampaignTransitionError(start.campaignId, 'empty', 'start without hosts');
  const pools = [...new Set(hosts.map((h) => h.pool))];
  const approval = initialApproval(deps.policy, pools);
  const campaign: Campaign = {
    campaignId: start.campaignId,
    status: 'running',
    approval,
    limits: start.limits,
    failureTolerance: start.failureTolerance,
    hosts: hosts.map((h) => ({
      hostId: h.hostId,
      pool: h.pool,
      availabilityZone: h.availabilityZone,
      state: 'pending',
    })),
  };
  const at = new Date(deps.clock.nowMs()).toISOString();
  await deps.campaigns.create({
    campaign,
    startedBy: principal,
    reason: start.reason,
    level: start.level,
    createdAt: at,
    executionNames: {},
    outcomes: {},
  });
  await deps.audit.append(campaignChainId(start.campaignId), {
    eventId: `campaign:${start.campaignId}:start`,
    at,
    principal,
    trigger: 'operator',
    step: 'CampaignStart',
    outcome: 'started',
    reason: start.reason,
    detail: {
      hosts: hosts.length,
      pools: pools.join(','),
      approvalRequired: approval.required,
      limits: JSON.stringify(start.limits),
      failureTolerance: JSON.stringify(start.failureTolerance),
    },
  });
  // The campaign's first execution, `campaign-<id>`; cdk/campaign-workflow.ts names the ones continuing it.
  const started = await deps.campaignExecutions.start(`campaign-${start.campaignId}`, {
    campaignId: start.campaignId,
    generation: 0,
    passes: 0,
  });
  return {
    campaignId: start.campaignId,
    executionArn: started.executionArn,
    hosts: hosts.length,
    approvalRequired: approval.required,
  };
}

const CampaignRefSchema = z.strictObject({ campaignId: CampaignIdSchema });
const CampaignMoveSchema = z.strictObject({ campaignId: CampaignIdSchema, reason: ReasonSchema.optional() });

export async function campaignStatus(deps: Pick<CampaignOperationDeps, 'campaigns'>, input: unknown) {
  const { campaignId } = parseWith(CampaignRefSchema, 'campaign status', input);
  const record = await deps.campaigns.get(campaignId);
  const counts: Record<string, number> = {};
  for (const h of record.campaign.hosts) counts[h.state] = (counts[h.state] ?? 0) + 1;
  return {
    campaignId,
    status: record.campaign.status,
    ...(record.campaign.statusReason === undefined ? {} : { statusReason: record.campaign.statusReason }),
    awaitingApproval: awaitsApproval(record.campaign),
    approval: { ...approvalOf(record.campaign), summary: describeApproval(approvalOf(record.campaign)) },
    startedBy: record.startedBy,
    reason: record.reason,
    createdAt: record.createdAt,
    limits: record.campaign.limits,
    failureTolerance: record.campaign.failureTolerance,
    counts,
    hosts: record.campaign.hosts.map((h) => ({
      hostId: h.hostId,
      pool: h.pool,
      availabilityZone: h.availabilityZone,
      state: h.state,
      ...(record.executionNames[h.hostId] === undefined
        ? {}
        : { executionName: record.executionNames[h.hostId] }),
      ...(record.outcomes[h.hostId] === undefined ? {} : { outcome: record.outcomes[h.hostId] }),
    })),
  };
}

/** The pools a campaign touches: what an operator needs grants on to act on it. */
export async function campaignPools(deps: Pick<CampaignOperationDeps, 'campaigns'>, input: unknown) {
  const { campaignId } = parseWith(CampaignMoveSchema, 'campaign', input);
  const record = await deps.campaigns.get(campaignId);
  return [...new Set(record.campaign.hosts.map((h) => h.pool))];
}

export type CampaignMove = 'pause' | 'resume' | 'cancel';

/** Pause, resume or cancel: the pure transition, written only if nobody moved the campaign meanwhile. */
export async function moveCampaign(
  deps: CampaignOperationDeps,
  principal: string,
  move: CampaignMove,
  input: unknown,
): Promise<object> {
  const { campaignId, reason } = parseWith(CampaignMoveSchema, `campaign ${move}`, input);
  const record = await deps.campaigns.get(campaignId);
  const said = reason ?? `${move} by ${principal}`;
  const next =
    move === 'pause'
      ? pauseCampaign(record.campaign, said)
      : move === 'resume'
        ? resumeCampaign(record.campaign)
        : cancelCampaign(record.campaign, said);
  // In flight is decided by the plan, which sees the hosts: it turns cancelling into cancelled.
  const to: CampaignStatus = next.status === 'cancelled' ? 'cancelling' : next.status;
  const moved = await deps.campaigns.setStatus(campaignId, record.campaign.status, to, next.statusReason);
  if (!moved) throw new CampaignTransitionError(campaignId, 'changing', move);
  await deps.audit.append(campaignChainId(campaignId), {
    eventId: `campaign:${campaignId}:${move}:${deps.clock.nowMs()}`,
    at: new Date(deps.clock.nowMs()).toISOString(),
    principal,
    trigger: 'operator',
    step: `Campaign${move.charAt(0).toUpperCase()}${move.slice(1)}`,
    outcome: 'succeeded',
    ...(reason === undefined ? {} : { reason }),
    detail: { from: record.campaign.status, to },
  });
  // A campaign cancelled while it waits for approval ends now, not when the approval times out.
  if (move === 'cancel' && awaitsApproval(record.campaign) && record.approvalToken !== undefined)
    await deps.taskCallbacks?.fail(record.approvalToken, CAMPAIGN_CANCELLED_ERROR, said);
  return { campaignId, status: to, previous: record.campaign.status };
}
