import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counterBreaks } from '../../host/lab/heartbeat-log.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { hostChainId, type AuditRecord } from '../../shared/domain/audit-record.js';
import { requestDigest, type RejuvenationRequest } from '../../shared/workflow/rejuvenation-request.js';
import { addFleetHost, agingAlarmEvent, type FleetHost } from './support/local-fleet.js';

let env: LocalEnvironment;

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: { pools: { solo: { maxHostsInMaintenance: 1 } }, defaultMaxHostsInMaintenance: 2 },
    waitMs: 100,
  });
});

// Every call each function made was one its deployed role may make: IAM refused nothing.
afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

async function chain(hostId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const r of env.store.audit.read(hostChainId(hostId))) records.push(r);
  return records;
}

async function finished(executionName: string) {
  const execution = env.stepFunctions.execution(executionName);
  if (execution === undefined) throw new Error(`no execution ${executionName}`);
  await execution.done;
  return execution;
}

describe('End to end: an aging alarm rejuvenates a host', () => {
  let host: FleetHost;

  beforeAll(async () => {
    host = await addFleetHost(env, { hostId: 'e2e-a', pool: 'web', vms: [{ name: 'vm1' }, { name: 'vm2' }] });
  });

  it('runs the whole workflow: host back IN_SERVICE, guests continued, every step audited in order', async () => {
    const before = await host.heartbeats();
    const started = (await env.invokeTrigger('AlarmTrigger', agingAlarmEvent(host.hostId))) as {
      status: string;
      executionName: string;
    };
    expect(started.status).toBe('started');
    const execution = await finished(started.executionName);
    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });

    expect(await env.store.hosts.get(host.hostId)).toMatchObject({ state: 'IN_SERVICE', cordoned: false });
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();

    const after = await host.heartbeats();
    for (const vm of ['vm1', 'vm2']) {
      expect(after[vm]?.boots, `${vm} never rebooted`).toBe(1);
      expect(counterBreaks(after[vm]?.counters ?? []), `${vm} counter continued`).toEqual([]);
      expect(after[vm]?.counters.length ?? 0).toBeGreaterThan(before[vm]?.counters.length ?? 0);
    }

    expect(await env.store.audit.verify(hostChainId(host.hostId))).toMatchObject({ ok: true });
    const steps = (await chain(host.hostId)).filter((r) => r.executionId === started.executionName);
    expect(steps.filter((r) => r.toState !== undefined).map((r) => r.toState)).toEqual([
      'ADMITTED',
      'DRAINING',
      'DRAINED',
      'SUSPENDING',
      'RELOADING',
      'RESUMING',
      'VERIFYING',
      'UNDRAINING',
      'IN_SERVICE',
    ]);
    const warm = steps.find(
      (r) => r.step === 'WarmReboot' && r.commandId !== undefined && r.outcome === 'succeeded',
    );
    expect(warm?.principal).toBe('cloudwatch-alarm:000000000000');
    expect(steps.at(-1)).toMatchObject({ step: 'Release', outcome: 'succeeded' });
    expect(env.sns.published().map((m) => m.subject)).toContain(`rejuv: host ${host.hostId} rejuvenated`);
  });

  it('starts one execution for the same alarm state change delivered twice', async () => {
    const event = agingAlarmEvent(host.hostId);
    const [a, b] = (await Promise.all([
      env.invokeTrigger('AlarmTrigger', event),
      env.invokeTrigger('AlarmTrigger', event),
    ])) as {
      status: string;
      executionName: string;
    }[];
    expect([a?.status, b?.status].sort()).toEqual(['duplicate', 'started']);
    expect(a?.executionName).toBe(b?.executionName);
    const execution = await finished(a?.executionName ?? '');
    expect(execution.status).toBe('SUCCEEDED');
    expect(env.stepFunctions.executions().filter((e) => e.name === a?.executionName)).toHaveLength(1);
  });
});

describe('End to end: an execution started around the triggers is refused at Admit', () => {
  let host: FleetHost;

  beforeAll(async () => {
    host = await addFleetHost(env, { hostId: 'e2e-forged', pool: 'web', vms: [{ name: 'vm1' }] });
  });

  const request = (principal: string): RejuvenationRequest => ({
    hostId: host.hostId,
    trigger: 'operator',
    principal,
    reason: 'planned rejuvenation',
    level: 'vmm-process',
    dryRun: false,
    allowSilentGuests: false,
  });

  /** Starts the state machine as anyone allowed StartExecution may: no trigger, any input. */
  async function startDirectly(name: string, input: RejuvenationRequest) {
    await env.sfnClient().send(
      new StartExecutionCommand({
        stateMachineArn: env.stepFunctions.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );
    const execution = await finished(name);
    await env.eventDeliveriesSettled();
    return execution;
  }

  /** Refused at Admit: the host untouched, nothing held, the refusal on its chain with the principal unverified. */
  async function expectRefusedUntouched(name: string, principal: string, claim: string) {
    const execution = env.stepFunctions.execution(name);
    expect({ status: execution?.status, error: execution?.error }).toEqual({
      status: 'FAILED',
      error: 'Refused',
    });
    const states = execution?.history.filter((h) => h.type === 'StateEntered').map((h) => h.stateName);
    expect(states).toEqual(['Start', 'Admit', 'RecordRefusal', 'Refused']);
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({
      state: 'IN_SERVICE',
      stateVersion: 0,
      cordoned: false,
    });
    expect(await env.store.hostLock.current(host.hostId)).toBeUndefined();
    const records = (await chain(host.hostId)).filter((r) => r.executionId === name);
    expect(records).toEqual([
      expect.objectContaining({
        step: 'Admit',
        outcome: 'refused',
        principal: `unverified:${principal}`,
        reason: expect.stringMatching(/^UnclaimedExecutionError: /),
        detail: {
          error: 'UnclaimedExecutionError',
          refusalKind: 'unclaimed',
          principalVerified: false,
          claimedPrincipal: principal,
          claim,
        },
      }),
    ]);
    expect(await env.store.audit.verify(hostChainId(host.hostId))).toMatchObject({ ok: true });
  }

  it('refuses one started directly on Step Functions with a forged principal: host untouched, refusal audited', async () => {
    const before = await host.heartbeats();
    const forged = 'arn:aws:iam::000000000000:role/security-admin';
    await startDirectly('op-e2e-forged-0000000000000001', request(forged));
    await expectRefusedUntouched('op-e2e-forged-0000000000000001', forged, 'no-claim');
    expect((await host.heartbeats())['vm1']?.boots).toBe(before['vm1']?.boots);
  });

  it('refuses one whose input is not the request its trigger claimed under that name', async () => {
    // A trigger's claim whose start never happened (as when the trigger dies between its claim and its
    // start): the claim is the one the operator trigger writes, for alice's request.
    const name = 'op-e2e-altered-0000000000000002';
    const claimed = await env.store.idempotency.claim(
      { executionName: name, requestDigest: requestDigest(request('alice@example.com')) },
      3600,
    );
    expect(claimed).toEqual({ claimed: true });
    await startDirectly(name, request('mallory@example.com'));
    await expectRefusedUntouched(name, 'mallory@example.com', 'request-differs');
  });

  it("cannot run a trigger's execution name with other input: Step Functions refuses the start", async () => {
    const started = await env.startAsOperator({
      hostId: host.hostId,
      reason: 'planned rejuvenation',
      dryRun: true,
      requestId: 'e2e-forged-dry',
    });
    expect(started.status).toBe('started');
    await expect(startDirectly(started.executionName, request('mallory@example.com'))).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
    expect((await finished(started.executionName)).status).toBe('SUCCEEDED');
  });
});
