/**
 * `rejuv campaign start|status|pause|resume|cancel|approve|reject`: fleet campaigns, each move sent to the operator API,
 * which checks the caller's grant on every pool the campaign touches and audits the move under their ARN.
 * `status` goes through the API too: a campaign names hosts of pools the caller may not be granted.
 */
import type { CampaignMoveOptions, CampaignStartOptions } from '../cli-options.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { Target } from '../target.js';

interface CampaignStatusResult {
  readonly status: string;
  readonly statusReason?: string;
  /** Absent from an operator API older than approvals. */
  readonly awaitingApproval?: boolean;
  readonly approval?: { readonly required: boolean; readonly summary: string };
  readonly counts: Readonly<Record<string, number>>;
  readonly hosts: readonly { hostId: string; pool: string; state: string; outcome?: string }[];
}

export async function campaignStartCommand(
  target: Target,
  options: CampaignStartOptions,
  out: Output,
): Promise<ExitCode> {
  const percent = options.tolerate.endsWith('%');
  const answer = await target.operatorApi.send({
    action: 'campaign-start',
    campaignId: options.campaignId,
    reason: options.reason,
    level: options.level,
    ...(options.hosts.length === 0 ? {} : { hostIds: options.hosts }),
    ...(options.pools.length === 0 ? {} : { pools: options.pools }),
    limits: {
      maxInMaintenancePerPool: {},
      defaultMaxInMaintenancePerPool: options.perPool,
      maxInMaintenancePerAz: {},
      ...(options.perAz === undefined ? {} : { defaultMaxInMaintenancePerAz: options.perAz }),
    },
    failureTolerance: {
      kind: percent ? 'percent' : 'count',
      max: Number(options.tolerate.replace('%', '')),
    },
  });
  const r = answer.result as { hosts?: number; approvalRequired?: boolean };
  out.result(
    answer,
    () =>
      `started campaign ${options.campaignId} over ${r.hosts ?? '?'} host(s) as ${answer.principal}; ` +
      (r.approvalRequired === true
        ? `a pool of it requires approval: no host starts until another operator runs \`rejuv campaign approve ${options.campaignId}\``
        : `follow it with \`rejuv campaign status ${options.campaignId}\``),
  );
  return EXIT.ok;
}

/** 0 while running or once completed; 1 when it halted or was cancelled: the fleet was not all done. */
export async function campaignStatusCommand(
  target: Target,
  options: CampaignMoveOptions,
  out: Output,
): Promise<ExitCode> {
  const answer = await target.operatorApi.send({ action: 'campaign-status', campaignId: options.campaignId });
  const r = answer.result as CampaignStatusResult;
  out.result(answer, () =>
    [
      `campaign ${options.campaignId}: ${r.awaitingApproval === true ? 'awaiting approval' : r.status}${r.statusReason === undefined ? '' : ` (${r.statusReason})`}`,
      ...(r.approval?.required === true ? [`  approval: ${r.approval.summary}`] : []),
      `  ${Object.entries(r.counts)
        .map(([state, n]) => `${state} ${n}`)
        .join(', ')}`,
      ...r.hosts.map(
        (h) =>
          `  ${h.hostId.padEnd(24)} ${h.pool.padEnd(16)} ${h.state}${h.outcome === undefined ? '' : `: ${h.outcome}`}`,
      ),
    ].join('\n'),
  );
  return r.status === 'halted' || r.status === 'cancelled' || r.status === 'rejected' ? EXIT.failed : EXIT.ok;
}

/**
 * Approve or reject a campaign that awaits approval. Refusals come back as the API's: the starter
 * approving (four-eyes) or no grant on a pool of it (7), already decided or ended (8), no such campaign (4).
 */
export async function campaignApprovalCommand(
  target: Target,
  move: 'approve' | 'reject',
  options: CampaignMoveOptions,
  out: Output,
): Promise<ExitCode> {
  const answer = await target.operatorApi.send({
    action: `campaign-${move}`,
    campaignId: options.campaignId,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  });
  out.result(answer, () =>
    move === 'approve'
      ? `campaign ${options.campaignId} approved by ${answer.principal}: its hosts start under its limits`
      : `campaign ${options.campaignId} rejected by ${answer.principal}: it ends, no host started`,
  );
  return EXIT.ok;
}

export async function campaignMoveCommand(
  target: Target,
  move: 'pause' | 'resume' | 'cancel',
  options: CampaignMoveOptions,
  out: Output,
): Promise<ExitCode> {
  const answer = await target.operatorApi.send({
    action: `campaign-${move}`,
    campaignId: options.campaignId,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  });
  const r = answer.result as { status: string; previous: string };
  const note =
    move === 'resume'
      ? 'hosts already done are not started again'
      : 'hosts in flight finish; none is abandoned';
  out.result(
    answer,
    () => `campaign ${options.campaignId}: ${r.previous} → ${r.status} by ${answer.principal} (${note})`,
  );
  return EXIT.ok;
}
