/**
 * The approval of a campaign: when any pool it touches requires one (the policy's `requiresApproval`), no
 * host starts until an operator approves it. The campaign state machine waits on a task token that its
 * approval step stores on the campaign's item; the operator API records the decision with a conditional
 * write and hands the token back to Step Functions to wake the machine. The record is the truth, the token
 * only a wake-up: a decision made before the step stored its token, or after the step timed out, is read
 * by the plan all the same. A rejection, or no decision within the timeout, ends the campaign `rejected`
 * before any host started; every decision is audited on the campaign's chain.
 *
 * Four-eyes: the operator who started a campaign may not approve it (unless the deployment allows it);
 * anyone with a grant on every pool of it may reject it, its starter included.
 */
import { z } from 'zod';
import type { Clock } from '../domain/clock.js';
import { NotAuthorizedError } from '../domain/errors.js';
import { ReasonSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';
import { policyForPool, type PolicyConfig } from '../policy/policy-config.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { CampaignStore } from '../ports/campaign-store.js';
import type { Notifier } from '../ports/notifier.js';
import type { TaskCallbacks } from '../ports/task-callbacks.js';
import { approvalOf, awaitsApproval, type CampaignApproval } from './campaign.js';
import { CampaignApprovalDecidedError, CampaignApprovalError } from './campaign-errors.js';
import { CampaignIdSchema } from './campaign-steps.js';

/** Who the audit trail names when an approval expired. */
export const APPROVAL_TIMEOUT_PRINCIPAL = 'rejuv:approval-timeout';
/** The errors the operator API fails the waiting task with; the state machine catches them by name. */
export const CAMPAIGN_REJECTED_ERROR = 'CampaignRejected';
export const CAMPAIGN_CANCELLED_ERROR = 'CampaignCancelled';

function campaignChainId(campaignId: string): string {
  return `campaign#${campaignId}`;
}

/** The approval a new campaign starts with: pending when a pool of it requires one. */
export function initialApproval(
  policy: PolicyConfig | undefined,
  pools: readonly string[],
): CampaignApproval {
  const requiring =
    policy === undefined ? [] : pools.filter((p) => policyForPool(policy, p).requiresApproval);
  return requiring.length > 0 ? { required: true, state: 'pending' } : { required: false, state: 'approved' };
}

/** "approved by X at T (why)", for messages and the status. */
export function describeApproval(approval: CampaignApproval): string {
  if (!approval.required) return 'not required';
  if (approval.state === 'pending') return 'awaiting approval';
  const at = approval.atMs === undefined ? '' : ` at ${new Date(approval.atMs).toISOString()}`;
  const why = approval.reason === undefined ? '' : ` (${approval.reason})`;
  return `${approval.state} by ${approval.by ?? 'unknown'}${at}${why}`;
}

export interface ApprovalStepDeps {
  readonly campaigns: CampaignStore;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly notifier: Notifier;
  readonly clock: Clock;
}

const AwaitInputSchema = z.strictObject({
  campaignId: CampaignIdSchema,
  // Step Functions' tokens are at most 2,048 characters (SendTaskSuccess's limit).
  taskToken: z.string().min(1).max(2048),
});

const ExpireInputSchema = z.strictObject({
  campaignId: CampaignIdSchema,
  expired: z.literal(true),
  timeoutSeconds: z.number().int().positive(),
});

/**
 * The approval step (`lambda:invoke.waitForTaskToken`): stores the token while the approval is pending and
 * asks for a decision on the notification topic. Throws CampaignApprovalDecidedError when the approval
 * was decided before the token could be stored; the machine then plans again, which reads the decision.
 */
export async function awaitApproval(deps: ApprovalStepDeps, input: unknown): Promise<object> {
  const { campaignId, taskToken } = parseWith(AwaitInputSchema, 'campaign approval input', input);
  const record = await deps.campaigns.get(campaignId);
  if (!awaitsApproval(record.campaign))
    throw new CampaignApprovalDecidedError(campaignId, approvalOf(record.campaign).state);
  if (!(await deps.campaigns.storeApprovalToken(campaignId, taskToken)))
    throw new CampaignApprovalDecidedError(campaignId, 'decided');
  const pools = [...new Set(record.campaign.hosts.map((h) => h.pool))];
  const hosts = record.campaign.hosts.length;
  await deps.audit.append(campaignChainId(campaignId), {
    // Once per campaign: a retried step (a new token) asks again but records the request once.
    eventId: `campaign:${campaignId}:approval-requested`,
    at: new Date(deps.clock.nowMs()).toISOString(),
    principal: record.startedBy,
    trigger: 'campaign',
    step: 'CampaignApprovalRequested',
    outcome: 'started',
    detail: { pools: pools.join(','), hosts },
  });
  await deps.notifier.notify({
    kind: 'approval-requested',
    hostId: campaignId,
    executionId: `campaign-${campaignId}`,
    subject: `rejuv: campaign ${campaignId} awaits approval (${hosts} hosts of ${pools.join(', ')})`,
    message: [
      `Campaign ${campaignId} was started by ${record.startedBy}: "${record.reason}".`,
      `It will rejuvenate ${hosts} host(s) of the pool(s) ${pools.join(', ')} (level ${record.level}); no host starts until it is approved.`,
      `Who may approve: an operator granted every one of these pools, other than ${record.startedBy}.`,
      `Approve: rejuv campaign approve ${campaignId} --reason "..."`,
      `Reject:  rejuv campaign reject ${campaignId} --reason "..."`,
    ].join('\n'),
  });
  return { campaignId, awaiting: true, pools, hosts };
}

/** The approval step timed out: the campaign ends `rejected` unless someone decided meanwhile. */
export async function expireApproval(deps: ApprovalStepDeps, input: unknown): Promise<object> {
  const { campaignId, timeoutSeconds } = parseWith(ExpireInputSchema, 'campaign approval expiry', input);
  const atMs = deps.clock.nowMs();
  const reason = `no approval within ${formatDuration(timeoutSeconds)}`;
  const { decided } = await deps.campaigns.decideApproval(campaignId, {
    approval: { required: true, state: 'rejected', by: APPROVAL_TIMEOUT_PRINCIPAL, atMs, reason },
    status: { to: 'rejected', reason: `approval expired: ${reason}` },
  });
  if (decided) {
    await deps.audit.append(campaignChainId(campaignId), {
      eventId: `campaign:${campaignId}:approval-expired`,
      at: new Date(atMs).toISOString(),
      principal: APPROVAL_TIMEOUT_PRINCIPAL,
      trigger: 'system',
      step: 'CampaignApprovalExpired',
      outcome: 'refused',
      reason,
      detail: { from: 'pending', to: 'rejected' },
    });
  }
  return { campaignId, expired: decided };
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export interface ApprovalDecisionDeps {
  readonly campaigns: CampaignStore;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly taskCallbacks: TaskCallbacks;
  readonly clock: Clock;
  /** Whether the operator who started a campaign may approve it too. @default false (four-eyes) */
  readonly allowSelfApproval?: boolean;
}

const ApproveSchema = z.strictObject({ campaignId: CampaignIdSchema, reason: ReasonSchema.optional() });
const RejectSchema = z.strictObject({ campaignId: CampaignIdSchema, reason: ReasonSchema });

export type ApprovalMove = 'approve' | 'reject';

/**
 * Approve or reject, as the authenticated `principal`: refused (CampaignApprovalError) when no approval is
 * required, or it was decided already (approving twice changes nothing and says by whom and when), or the
 * campaign ended; refused (NotAuthorizedError, audited) when the starter approves their own campaign.
 */
export async function decideCampaignApproval(
  deps: ApprovalDecisionDeps,
  principal: string,
  move: ApprovalMove,
  input: unknown,
): Promise<object> {
  const { campaignId, reason } = parseWith(
    move === 'approve' ? ApproveSchema : RejectSchema,
    `campaign ${move}`,
    input,
  );
  const record = await deps.campaigns.get(campaignId);
  const approval = approvalOf(record.campaign);
  if (!approval.required)
    throw new CampaignApprovalError(campaignId, `no pool of it requires approval: nothing to ${move}`);
  if (approval.state !== 'pending')
    throw new CampaignApprovalError(campaignId, `already ${describeApproval(approval)}: nothing to ${move}`);
  const atMs = deps.clock.nowMs();
  const at = new Date(atMs).toISOString();
  // An exact match: the same IAM user, or the same role session. Two sessions of one role are two people
  // only as far as the role's session names say so.
  if (move === 'approve' && deps.allowSelfApproval !== true && principal === record.startedBy) {
    const refusal = `${principal} started campaign ${campaignId}: another operator must approve it (four-eyes)`;
    await deps.audit.append(campaignChainId(campaignId), {
      eventId: `campaign:${campaignId}:approve-refused:${atMs}`,
      at,
      principal,
      trigger: 'operator',
      step: 'CampaignApprove',
      outcome: 'refused',
      reason: refusal,
    });
    throw new NotAuthorizedError(principal, 'campaign-approve', refusal);
  }
  const state = move === 'approve' ? 'approved' : 'rejected';
  const { decided, token } = await deps.campaigns.decideApproval(campaignId, {
    approval: { required: true, state, by: principal, atMs, ...(reason === undefined ? {} : { reason }) },
    ...(move === 'reject'
      ? { status: { to: 'rejected' as const, reason: `rejected by ${principal}: ${reason ?? ''}` } }
      : {}),
  });
  if (!decided) {
    // Someone decided, or the campaign was cancelled, between the read and the write: say what won.
    const now = await deps.campaigns.get(campaignId);
    const current = approvalOf(now.campaign);
    throw new CampaignApprovalError(
      campaignId,
      current.state === 'pending'
        ? `it is ${now.campaign.status}: nothing to ${move}`
        : `already ${describeApproval(current)}: nothing to ${move}`,
    );
  }
  await deps.audit.append(campaignChainId(campaignId), {
    eventId: `campaign:${campaignId}:${move}`,
    at,
    principal,
    trigger: 'operator',
    step: move === 'approve' ? 'CampaignApprove' : 'CampaignReject',
    outcome: 'succeeded',
    ...(reason === undefined ? {} : { reason }),
    detail: { from: 'pending', to: state, startedBy: record.startedBy },
  });
  // No token yet: the step has not stored it, and will find the decision when it comes to.
  const woke =
    token === undefined
      ? false
      : move === 'approve'
        ? await deps.taskCallbacks.succeed(token, { approvedBy: principal })
        : await deps.taskCallbacks.fail(
            token,
            CAMPAIGN_REJECTED_ERROR,
            `rejected by ${principal}: ${reason ?? ''}`,
          );
  return { campaignId, approval: state, by: principal, at, woke };
}
