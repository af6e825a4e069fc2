/**
 * The policy gate end to end, as synthesized: the construct's `policy` prop reaches Admit, CampaignPlan and
 * the operator API as REJUV_POLICY; Admit judges every start before it takes anything; blockers are read
 * from the local CloudWatch's DescribeAlarms under each function's own role. What an operator sees of a
 * refusal is read as the CLI reads it (cli/executions.ts: the execution's error and cause).
 */
import {
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type CloudWatchClient,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeExecution, executionArnOf } from '../../cli/executions.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import {
  localOperatorArn,
  startLocalEnvironment,
  type LocalEnvironment,
} from '../../local/local-environment.js';
import { localCloudWatchClient } from '../../local/cloudwatch-endpoint.js';
import { LOCAL_ACCOUNT } from '../../local/step-functions/synthesized-workflow.js';
import { campaignExecutionName } from '../../shared/campaign/campaign-steps.js';
import { WEEKDAYS } from '../../shared/policy/zoned-time.js';
import { auditChain, finished, operatorRequest, type TriggerAnswer } from './support/execution.js';
import { addFleetHost } from './support/local-fleet.js';
import { lastCampaignGeneration } from './support/campaign-generations.js';

const DAY_MS = 24 * 3600 * 1000;
/** The pool `closed` opens on one UTC day, two days from now: now is outside it whatever the hour. */
const openDayStartMs = Math.floor(Date.now() / DAY_MS) * DAY_MS + 2 * DAY_MS;
const openDay = WEEKDAYS[new Date(openDayStartMs).getUTCDay()];
const NO_GLASS = `arn:aws:iam::${LOCAL_ACCOUNT}:user/no-glass`;
const BLOCKER = 'guarded-blocker-latency';

let env: LocalEnvironment;
let cloudWatch: CloudWatchClient;

/** The blocker, as a team's own alarm would be: created once, its state then set as CloudWatch's would. */
async function setBlocker(state: 'OK' | 'ALARM'): Promise<void> {
  await cloudWatch.send(
    new SetAlarmStateCommand({ AlarmName: BLOCKER, StateValue: state, StateReason: `latency ${state}` }),
  );
}

beforeAll(async () => {
  if (openDay === undefined) throw new Error('no weekday');
  env = await startLocalEnvironment({
    coordinator: {
      pools: { guarded: { maxHostsInMaintenance: 1 } },
      operators: [{ principals: [`arn:aws:iam::${LOCAL_ACCOUNT}:user/no-glass`], pools: ['closed'] }],
      policy: {
        pools: {
          closed: { windows: [{ days: [openDay], start: '00:00', end: '24:00', timeZone: 'UTC' }] },
          cool: { cooldownMinutes: 600 },
          guarded: { blockerAlarmPatterns: ['guarded-blocker-*'] },
        },
        breakGlassPrincipals: [localOperatorArn()],
      },
    },
    waitMs: 100,
  });
  await Promise.all(
    [
      { hostId: 'pol-closed-1', pool: 'closed' },
      { hostId: 'pol-cool-1', pool: 'cool' },
      { hostId: 'pol-guard-1', pool: 'guarded' },
      { hostId: 'pol-guard-2', pool: 'guarded' },
      { hostId: 'pol-guard-3', pool: 'guarded' },
    ].map((h) => addFleetHost(env, { ...h, vms: [{ name: 'vm1' }] })),
  );
  cloudWatch = localCloudWatchClient(env.cloudWatch.endpoint, undefined, 'local');
  // No data ever reaches its metric, and missing data is ignored: its state is the one set.
  await cloudWatch.send(
    new PutMetricAlarmCommand({
      AlarmName: BLOCKER,
      Namespace: 'Team/Web',
      MetricName: 'LatencyP99',
      Statistic: 'Average',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'ignore',
    }),
  );
  await setBlocker('OK');
});

// Every call the functions and the machines made (DescribeAlarms included) was one their roles may make.
afterEach(() => {
  expect(env.iam.refusals().filter((r) => r.principalArn.includes(':assumed-role/'))).toEqual([]);
});

afterAll(async () => {
  cloudWatch?.destroy();
  await env?.stop();
  await teardownOpenLabHosts();
});

const start = async (hostId: string, requestId: string, extra: Record<string, unknown> = {}) =>
  (await env.startAsOperator(operatorRequest(hostId, requestId, extra))) as TriggerAnswer;

/** The execution as `rejuv status NAME` shows it. */
const asCliSees = (name: string) =>
  describeExecution(env.sfnClient(), executionArnOf(env.stepFunctions.stateMachineArn, name));

describe('Policy gate at Admit', () => {
  it("refuses a start outside the pool's window, naming the rule and the window's next opening; nothing is taken", async () => {
    const started = await start('pol-closed-1', 'outside-window');
    await finished(env, started.executionName);
    const seen = await asCliSees(started.executionName);
    expect(seen).toMatchObject({ status: 'FAILED', error: 'Refused', outcome: 'refused' });
    expect(seen.cause).toContain('PolicyRefusedError: policy refused (rule window');
    expect(seen.cause).toContain(`not before ${new Date(openDayStartMs).toISOString()}`);
    expect(seen.steps.map((s) => s.state)).toEqual(['Admit', 'RecordRefusal', 'Refused']);
    expect(await env.store.hosts.get('pol-closed-1')).toMatchObject({ state: 'IN_SERVICE', stateVersion: 0 });
    expect(await env.store.hostLock.current('pol-closed-1')).toBeUndefined();
    const refusal = (await auditChain(env, 'pol-closed-1')).find(
      (r) => r.executionId === started.executionName,
    );
    expect(refusal).toMatchObject({
      step: 'Admit',
      outcome: 'refused',
      detail: expect.objectContaining({
        refusalKind: 'policy',
        policyRule: 'window',
        policyUntil: new Date(openDayStartMs).toISOString(),
      }),
    });
  });

  it('break-glass by a principal the policy names: starts outside the window, audited as break-glass', async () => {
    const started = await start('pol-closed-1', 'glass-allowed', {
      breakGlassReason: 'INC-42: host leaking',
    });
    expect((await finished(env, started.executionName)).status).toBe('SUCCEEDED');
    const admitted = (await auditChain(env, 'pol-closed-1')).find(
      (r) => r.executionId === started.executionName && r.step === 'Admit',
    );
    expect(admitted).toMatchObject({
      outcome: 'succeeded',
      principal: localOperatorArn(),
      detail: expect.objectContaining({
        policyVerdict: 'allow',
        breakGlass: true,
        breakGlassPrincipal: localOperatorArn(),
        breakGlassReason: 'INC-42: host leaking',
        breakGlassBypassed: 'window',
      }),
    });
  });

  it('break-glass by a principal the policy does not name: refused (403, audited) and nothing starts', async () => {
    const noGlass = env.iam.createUser('no-glass', []);
    expect(noGlass.principalArn).toBe(NO_GLASS);
    const before = env.stepFunctions.executions().length;
    const answer = await env.operatorApi.send(
      { action: 'start', ...operatorRequest('pol-closed-1', 'glass-refused'), breakGlassReason: 'why not' },
      noGlass,
    );
    expect(answer.status).toBe(403);
    expect(JSON.stringify(answer.body)).toContain('breakGlassPrincipals');
    expect(env.stepFunctions.executions()).toHaveLength(before);
    expect((await auditChain(env, 'pol-closed-1')).at(-1)).toMatchObject({
      step: 'OperatorApi',
      outcome: 'refused',
      principal: NO_GLASS,
    });
  });

  it('cooldown: a host rejuvenated is refused until its cooldown ends, counted from the recorded end', async () => {
    const first = await start('pol-cool-1', 'cool-first');
    expect((await finished(env, first.executionName)).status).toBe('SUCCEEDED');
    const host = await env.store.hosts.get('pol-cool-1');
    // The end is the host's return to service, recorded by Release.
    expect(host.lastRejuvenatedAt).toBe(host.lastTransition?.at);
    const endMs = Date.parse(host.lastRejuvenatedAt ?? '');

    const second = await start('pol-cool-1', 'cool-second');
    await finished(env, second.executionName);
    const seen = await asCliSees(second.executionName);
    expect(seen.error).toBe('Refused');
    expect(seen.cause).toContain('rule cooldown');
    expect(seen.cause).toContain(`not before ${new Date(endMs + 600 * 60_000).toISOString()}`);
    expect(await env.store.hosts.get('pol-cool-1')).toMatchObject({
      state: 'IN_SERVICE',
      stateVersion: host.stateVersion,
    });
  });
});

describe('Policy gate in a campaign', () => {
  interface StatusAnswer {
    status: string;
    statusReason?: string;
    hosts: { hostId: string; state: string; outcome?: string }[];
  }
  const status = async (campaignId: string): Promise<StatusAnswer> => {
    const answer = await env.operatorApi.send({ action: 'campaign-status', campaignId });
    return (answer.body as { result: StatusAnswer }).result;
  };
  async function until(what: string, check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 900; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('a blocker raised mid-campaign: the host in flight finishes, no other starts until it clears', async () => {
    const answer = await env.operatorApi.send({
      action: 'campaign-start',
      campaignId: 'blocked',
      reason: 'monthly',
      pools: ['guarded'],
    });
    expect(answer.status).toBe(200);
    // In flight: past Admit, out of service (a host the plan started but Admit has not judged yet would
    // be refused by the blocker and skipped: nothing done to it, and no failure of the campaign's).
    await until('a host in flight', async () =>
      (await env.store.hosts.listByPool('guarded')).some((h) => h.state !== 'IN_SERVICE'),
    );
    await setBlocker('ALARM');
    await until('the host in flight done', async () =>
      (await status('blocked')).hosts.some((h) => h.state === 'done'),
    );
    // Blocked: however many passes the machine makes, no other host starts, and the status says why.
    await new Promise((r) => setTimeout(r, 2000));
    const blocked = await status('blocked');
    expect(blocked.status).toBe('running');
    expect(blocked.hosts.map((h) => h.state).sort()).toEqual(['done', 'pending', 'pending']);
    expect(blocked.statusReason).toContain(
      `blocked: pool guarded is blocked by alarm(s) in ALARM: ${BLOCKER}`,
    );

    await setBlocker('OK');
    const execution = await lastCampaignGeneration(env, 'blocked');
    expect(execution?.status).toBe('SUCCEEDED');
    const final = await status('blocked');
    expect(final.status).toBe('completed');
    expect(final.statusReason).toBeUndefined();
    expect(final.hosts.map((h) => h.state)).toEqual(['done', 'done', 'done']);
    for (const h of final.hosts)
      expect(env.stepFunctions.execution(campaignExecutionName('blocked', h.hostId))?.status).toBe(
        'SUCCEEDED',
      );
  });

  it('a host in cooldown is skipped with the reason, and is not a failure', async () => {
    // pol-cool-1 was rejuvenated above: its cooldown (600 min) has not ended.
    const answer = await env.operatorApi.send({
      action: 'campaign-start',
      campaignId: 'cooling',
      reason: 'monthly',
      pools: ['cool'],
    });
    expect(answer.status).toBe(200);
    const execution = await lastCampaignGeneration(env, 'cooling');
    expect(execution?.status).toBe('SUCCEEDED');
    const final = await status('cooling');
    expect(final.status).toBe('completed');
    expect(final.hosts).toEqual([
      expect.objectContaining({
        hostId: 'pol-cool-1',
        state: 'skipped',
        outcome: expect.stringContaining('cools down'),
      }),
    ]);
    expect(env.stepFunctions.execution(campaignExecutionName('cooling', 'pol-cool-1'))).toBeUndefined();
  });
});
