/**
 * Campaigns end to end, as synthesized: the operator API starts the campaign state machine, which runs
 * each host's rejuvenation as a child execution (startExecution.sync:2 in the local Step Functions, under
 * the campaign role's IAM) against lab hosts. Three hosts in two pools, one host of each pool at a time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { LOCAL_ACCOUNT } from '../../local/step-functions/synthesized-workflow.js';
import { OPERATOR_API_CHAIN } from '../../shared/operator/operator-api.js';
import { campaignExecutionName } from '../../shared/campaign/campaign-steps.js';
import { auditChain } from './support/execution.js';
import { addFleetHost } from './support/local-fleet.js';
import { campaignGenerations, lastCampaignGeneration } from './support/campaign-generations.js';

let env: LocalEnvironment;
const HOSTS = [
  { hostId: 'cmp-web-1', pool: 'web' },
  { hostId: 'cmp-web-2', pool: 'web' },
  { hostId: 'cmp-db-1', pool: 'db' },
];

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: {
      operators: [{ principals: [`arn:aws:iam::${LOCAL_ACCOUNT}:user/web-operator`], pools: ['web'] }],
      // Every campaign here outlives two passes, so each one continues as new at least once.
      campaignPassesPerExecution: 2,
    },
    waitMs: 100,
  });
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
  hosts: { hostId: string; state: string; executionName?: string; outcome?: string }[];
}

async function campaign(action: string, body: Record<string, unknown>): Promise<unknown> {
  const answer = await env.operatorApi.send({ action: `campaign-${action}`, ...body });
  if (answer.status !== 200)
    throw new Error(`campaign-${action}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return (answer.body as { result: unknown }).result;
}

const status = async (campaignId: string) => (await campaign('status', { campaignId })) as StatusAnswer;

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const campaignEnded = (campaignId: string) => lastCampaignGeneration(env, campaignId);

/** When each host's execution held it, from its audit chain: first and last record of that execution. */
async function heldIntervals(campaignId: string) {
  return Promise.all(
    HOSTS.map(async (h) => {
      const name = campaignExecutionName(campaignId, h.hostId);
      const records = (await auditChain(env, h.hostId)).filter((r) => r.executionId === name);
      const times = records.map((r) => Date.parse(r.at));
      return { ...h, records, fromMs: Math.min(...times), toMs: Math.max(...times) };
    }),
  );
}

describe('Campaign state machine', () => {
  it('rejuvenates every host of two pools, never more than one host of a pool at a time', async () => {
    const started = (await campaign('start', {
      campaignId: 'all-hosts',
      reason: 'quarterly rejuvenation',
      pools: ['web', 'db'],
    })) as { hosts: number };
    expect(started.hosts).toBe(3);
    const execution = await campaignEnded('all-hosts');
    expect(execution.status).toBe('SUCCEEDED');
    // Three passes at least (two web hosts one at a time, then the end): more than one generation.
    expect((await campaignGenerations(env, 'all-hosts')).length).toBeGreaterThan(1);
    const final = await status('all-hosts');
    expect(final.status).toBe('completed');
    expect(final.hosts.map((h) => h.state)).toEqual(['done', 'done', 'done']);

    const held = await heldIntervals('all-hosts');
    for (const h of held) {
      // Each host ran once, as a campaign request naming the operator who started the campaign.
      expect(h.records.find((r) => r.step === 'Admit')?.trigger).toBe('campaign');
      expect(env.stepFunctions.execution(campaignExecutionName('all-hosts', h.hostId))?.status).toBe(
        'SUCCEEDED',
      );
    }
    const [web1, web2] = held.filter((h) => h.pool === 'web');
    if (web1 === undefined || web2 === undefined) throw new Error('two web hosts expected');
    // The pool limit (1): one web host's execution ended before the other's began.
    expect(web1.toMs <= web2.fromMs || web2.toMs <= web1.fromMs).toBe(true);
    const campaignAudit = [];
    for await (const r of env.store.audit.read('campaign#all-hosts')) campaignAudit.push(r);
    expect(campaignAudit.map((r) => [r.step, r.principal])).toEqual([
      ['CampaignStart', env.operatorApi.operator.principalArn],
    ]);
  });

  it('pauses with the host in flight finishing, and on resume runs only the hosts not done', async () => {
    await campaign('start', { campaignId: 'paused', reason: 'web only', pools: ['web'] });
    await until('a host running', async () =>
      (await status('paused')).hosts.some((h) => h.state === 'running'),
    );
    expect(await campaign('pause', { campaignId: 'paused', reason: 'incident review' })).toMatchObject({
      status: 'paused',
    });
    await until('the host in flight done', async () =>
      (await status('paused')).hosts.some((h) => h.state === 'done'),
    );
    // Paused: the other host is not started, however many passes the machine makes.
    await new Promise((r) => setTimeout(r, 1500));
    const paused = await status('paused');
    expect(paused.status).toBe('paused');
    expect(paused.hosts.map((h) => h.state).sort()).toEqual(['done', 'pending']);
    const doneHost = paused.hosts.find((h) => h.state === 'done')?.hostId ?? '';

    await campaign('resume', { campaignId: 'paused' });
    expect((await campaignEnded('paused')).status).toBe('SUCCEEDED');
    const final = await status('paused');
    expect(final.status).toBe('completed');
    expect(final.hosts.map((h) => h.state)).toEqual(['done', 'done']);
    // The host done before the pause ran once: one Admit of this campaign on its chain.
    const name = campaignExecutionName('paused', doneHost);
    const admits = (await auditChain(env, doneHost)).filter(
      (r) => r.executionId === name && r.step === 'Admit',
    );
    expect(admits.filter((r) => r.outcome === 'succeeded')).toHaveLength(1);
  });

  it('cancels: the host in flight finishes, no other starts, and the campaign ends cancelled', async () => {
    await campaign('start', { campaignId: 'cancelled', reason: 'web only', pools: ['web'] });
    await until('a host running', async () =>
      (await status('cancelled')).hosts.some((h) => h.state === 'running'),
    );
    const running = (await status('cancelled')).hosts.find((h) => h.state === 'running');
    expect(await campaign('cancel', { campaignId: 'cancelled', reason: 'change freeze' })).toMatchObject({
      status: 'cancelling',
    });
    expect((await campaignEnded('cancelled')).status).toBe('SUCCEEDED');
    const final = await status('cancelled');
    expect(final.status).toBe('cancelled');
    expect(final.statusReason).toBe('change freeze');
    expect(final.hosts.find((h) => h.hostId === running?.hostId)?.state).toBe('done');
    expect(final.hosts.filter((h) => h.state === 'pending')).toHaveLength(1);
    expect(
      env.stepFunctions.execution(campaignExecutionName('cancelled', running?.hostId ?? ''))?.status,
    ).toBe('SUCCEEDED');
    expect(await env.store.hosts.get(running?.hostId ?? '')).toMatchObject({ state: 'IN_SERVICE' });
  });

  it('refuses a caller without a grant on every pool the campaign touches, and audits the refusal', async () => {
    const webOperator = env.iam.createUser('web-operator', []);
    const answer = await env.operatorApi.send(
      { action: 'campaign-start', campaignId: 'refused', reason: 'r', pools: ['web', 'db'] },
      webOperator,
    );
    expect(answer.status).toBe(403);
    const refusals = [];
    for await (const r of env.store.audit.read(OPERATOR_API_CHAIN)) refusals.push(r);
    expect(refusals.at(-1)).toMatchObject({ outcome: 'refused', principal: webOperator.principalArn });
    expect(refusals.at(-1)?.reason).toContain('pool db');
    await expect(env.store.campaigns.get('refused')).rejects.toThrow('no campaign refused');
  });
});
