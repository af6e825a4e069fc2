/**
 * Campaign approvals end to end, as synthesized: a pool whose policy `requiresApproval`; the campaign
 * machine waits on a task token (lambda:invoke.waitForTaskToken in the local Step Functions) and no host
 * starts until another operator approves through the operator API, which answers the token under the
 * operator API role's IAM. A rejection ends the campaign with no host started, audited, and the status
 * says who and why. The starter may not approve (four-eyes); a used token is answered TaskTimedOut.
 */
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import type { LocalIdentity } from '../../local/iam/local-iam.js';
import { LOCAL_ACCOUNT } from '../../local/step-functions/synthesized-workflow.js';
import { campaignExecutionName } from '../../shared/campaign/campaign-steps.js';
import { addFleetHost } from './support/local-fleet.js';
import { lastCampaignGeneration } from './support/campaign-generations.js';

let env: LocalEnvironment;
let approver: LocalIdentity;
let webOnly: LocalIdentity;
const HOSTS = [
  { hostId: 'gated-1', pool: 'gated' },
  { hostId: 'gated-2', pool: 'gated' },
];

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: {
      policy: { pools: { gated: { requiresApproval: true } } },
      operators: [
        { principals: [`arn:aws:iam::${LOCAL_ACCOUNT}:user/approver`], pools: ['gated'] },
        { principals: [`arn:aws:iam::${LOCAL_ACCOUNT}:user/web-only`], pools: ['web'] },
      ],
    },
    waitMs: 100,
  });
  approver = env.iam.createUser('approver', []);
  webOnly = env.iam.createUser('web-only', []);
  await Promise.all(HOSTS.map((h) => addFleetHost(env, { ...h, vms: [{ name: 'vm1' }] })));
});

// Every call the functions and the machines made was one their deployed roles may make.
afterEach(() => {
  expect(env.iam.refusals().filter((r) => r.principalArn.includes(':assumed-role/'))).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

interface StatusAnswer {
  status: string;
  statusReason?: string;
  awaitingApproval: boolean;
  approval: { required: boolean; state: string; by?: string; reason?: string; summary: string };
  hosts: { hostId: string; state: string }[];
}

async function send(action: string, body: Record<string, unknown>, as?: LocalIdentity) {
  return env.operatorApi.send({ action: `campaign-${action}`, ...body }, as);
}

async function campaign(action: string, body: Record<string, unknown>, as?: LocalIdentity) {
  const answer = await send(action, body, as);
  if (answer.status !== 200)
    throw new Error(`campaign-${action}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return (answer.body as { result: Record<string, unknown> }).result;
}

const status = async (campaignId: string) =>
  (await campaign('status', { campaignId })) as unknown as StatusAnswer;

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Started, and its approval step has stored the token it waits on. */
async function startAwaiting(campaignId: string): Promise<string> {
  const started = await campaign('start', { campaignId, reason: 'patch the gated pool', pools: ['gated'] });
  expect(started['approvalRequired']).toBe(true);
  let token: string | undefined;
  await until('the approval step waiting, and asking on the topic', async () => {
    token = (await env.store.campaigns.get(campaignId)).approvalToken;
    return token !== undefined && asked(campaignId).length > 0;
  });
  return token ?? '';
}

const asked = (campaignId: string) =>
  env.sns.published().filter((m) => m.subject?.includes(`campaign ${campaignId} awaits approval`) === true);

const ended = (campaignId: string) => lastCampaignGeneration(env, campaignId, 60_000);

async function campaignAudit(campaignId: string) {
  const records = [];
  for await (const r of env.store.audit.read(`campaign#${campaignId}`)) records.push(r);
  return records;
}

const hostExecutions = (campaignId: string) =>
  HOSTS.map((h) => env.stepFunctions.execution(campaignExecutionName(campaignId, h.hostId))).filter(
    (e) => e !== undefined,
  );

describe('Campaign approval', () => {
  it('waits with no host started, refuses the starter, and runs the hosts once another operator approves', async () => {
    const token = await startAwaiting('approve-me');
    // Asked on the topic: which pools, how many hosts, who may approve.
    expect(asked('approve-me')).toHaveLength(1);
    expect(asked('approve-me')[0]?.message).toContain('2 host(s) of the pool(s) gated');
    await new Promise((r) => setTimeout(r, 1000));
    const waiting = await status('approve-me');
    expect(waiting).toMatchObject({ status: 'running', awaitingApproval: true });
    expect(waiting.approval.summary).toBe('awaiting approval');
    expect(waiting.hosts.map((h) => h.state)).toEqual(['pending', 'pending']);
    expect(hostExecutions('approve-me')).toEqual([]);

    // Four-eyes: the operator who started it is refused, and the refusal is audited.
    const self = await send('approve', { campaignId: 'approve-me' });
    expect(self.status).toBe(403);
    // A grant on another pool only: refused by the grants, before anything is read.
    expect((await send('approve', { campaignId: 'approve-me' }, webOnly)).status).toBe(403);
    expect((await status('approve-me')).awaitingApproval).toBe(true);

    const approved = await campaign('approve', { campaignId: 'approve-me', reason: 'CAB-118' }, approver);
    expect(approved).toMatchObject({ approval: 'approved', by: approver.principalArn, woke: true });
    // Approving twice is refused, saying by whom.
    const again = await send('approve', { campaignId: 'approve-me' }, approver);
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toContain(`already approved by ${approver.principalArn}`);
    // The token was answered: replayed, Step Functions says the task no longer waits.
    await expect(
      env.sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
    await expect(
      env.sfnClient().send(new SendTaskSuccessCommand({ taskToken: 'not-a-task-token', output: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidToken' });

    const execution = await ended('approve-me');
    expect(execution.status).toBe('SUCCEEDED');
    const final = await status('approve-me');
    expect(final.status).toBe('completed');
    expect(final.hosts.map((h) => h.state)).toEqual(['done', 'done']);
    expect(final.approval).toMatchObject({ state: 'approved', by: approver.principalArn, reason: 'CAB-118' });
    expect(hostExecutions('approve-me').map((e) => e?.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    // Each host started after the approval, never before.
    const approvedAt = Date.parse(String(approved['at']));
    for (const e of hostExecutions('approve-me')) expect(e?.startDate).toBeGreaterThanOrEqual(approvedAt);

    expect((await campaignAudit('approve-me')).map((r) => [r.step, r.outcome, r.principal])).toEqual([
      ['CampaignStart', 'started', env.operatorApi.operator.principalArn],
      ['CampaignApprovalRequested', 'started', env.operatorApi.operator.principalArn],
      ['CampaignApprove', 'refused', env.operatorApi.operator.principalArn],
      ['CampaignApprove', 'succeeded', approver.principalArn],
    ]);
  });

  it('ends a rejected campaign with no host started, audited, the status saying who and why', async () => {
    await startAwaiting('reject-me');
    // A rejection needs its reason.
    expect((await send('reject', { campaignId: 'reject-me' })).status).toBe(400);
    // The starter may withdraw their own campaign.
    const rejected = await campaign('reject', { campaignId: 'reject-me', reason: 'change freeze' });
    expect(rejected).toMatchObject({ approval: 'rejected', woke: true });
    const execution = await ended('reject-me');
    expect(execution).toMatchObject({ status: 'FAILED', error: 'CampaignRejected' });

    const final = await status('reject-me');
    expect(final.status).toBe('rejected');
    expect(final.statusReason).toBe(`rejected by ${env.operatorApi.operator.principalArn}: change freeze`);
    expect(final.approval).toMatchObject({
      state: 'rejected',
      by: env.operatorApi.operator.principalArn,
      reason: 'change freeze',
    });
    expect(final.hosts.map((h) => h.state)).toEqual(['pending', 'pending']);
    expect(hostExecutions('reject-me')).toEqual([]);
    // Approving a rejected campaign is refused.
    const late = await send('approve', { campaignId: 'reject-me' }, approver);
    expect(late.status).toBe(409);
    expect(JSON.stringify(late.body)).toContain('already rejected');
    expect((await campaignAudit('reject-me')).map((r) => [r.step, r.outcome, r.reason])).toEqual([
      ['CampaignStart', 'started', 'patch the gated pool'],
      ['CampaignApprovalRequested', 'started', undefined],
      ['CampaignReject', 'succeeded', 'change freeze'],
    ]);
  });

  it('ends a campaign cancelled while it waits for approval at once, not at the approval timeout', async () => {
    await startAwaiting('cancel-me');
    await campaign('cancel', { campaignId: 'cancel-me', reason: 'not this week' });
    expect((await ended('cancel-me')).status).toBe('SUCCEEDED');
    const final = await status('cancel-me');
    expect(final).toMatchObject({ status: 'cancelled', statusReason: 'not this week' });
    expect(hostExecutions('cancel-me')).toEqual([]);
  });
});
