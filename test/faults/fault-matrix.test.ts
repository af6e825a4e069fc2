/**
 * The fault matrix: each fault injected for real into the running local environment (QEMU processes
 * killed or frozen, device-state files deleted or corrupted, the host agent frozen or offline, the
 * inventory broken, records rewritten behind the coordinator's back, Lambda invocations crashed or
 * stalled, triggers raced), then the invariants checked from outside.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { findVmProcesses, vmPid } from '../../host/lab/vm-processes.js';
import { addFleetHost, agingAlarmEvent, type FleetHost } from '../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../local/local-environment.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/document-client.js';
import { holdAgentAt } from './support/agent-holds.js';
import { operatorStart, signalIfAlive, whenFinished as whenFinishedOn } from './support/fault-triggers.js';
import { handlerFaults, startFaultEnvironment } from './support/fault-environment.js';
import { checkInvariants, onRecord, type FaultVerdict } from './support/invariants.js';
import { injectFault } from './support/tally.js';

let env: LocalEnvironment;
let hostCount = 0;

beforeAll(async () => {
  env = await startFaultEnvironment();
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

async function newHost(vms = 2): Promise<FleetHost> {
  hostCount += 1;
  return addFleetHost(env, {
    hostId: `fm-${hostCount}`,
    pool: `fm-pool-${hostCount}`,
    vms: Array.from({ length: vms }, (_, i) => ({ name: `vm${i + 1}` })),
  });
}

const operator = (host: FleetHost, requestId?: string) => operatorStart(env, host, 'fault matrix', requestId);
const whenFinished = (host: FleetHost, document: string, body: () => void | Promise<void>) =>
  whenFinishedOn(env, host, document, body);

function expectSurvived(verdict: FaultVerdict): void {
  const trail = verdict.records
    .map(
      (r) =>
        `${r.seq} ${r.executionId ?? '-'} ${r.step}:${r.outcome}${r.toState === undefined ? '' : `>${r.toState}`} ${(r.reason ?? '').slice(0, 160)}`,
    )
    .join('\n');
  expect(verdict.problems, `${verdict.ending}\n${trail}`).toEqual([]);
  expect({ lostGuests: verdict.lostGuests, lostAuditRecords: verdict.lostAuditRecords }).toEqual({
    lostGuests: 0,
    lostAuditRecords: 0,
  });
}

const stateFileOf = (host: FleetHost, vm: string) => join(host.lab.vm(vm).stateDir, 'suspend.vmstate');

const inventoryFileOf = (host: FleetHost, vm: string): string => {
  const dir = join(host.lab.root, 'etc', 'rejuv', 'vms.d');
  const file = readdirSync(dir).find((f) => f.startsWith(vm));
  if (file === undefined) throw new Error(`no inventory file for ${vm} in ${dir}`);
  return join(dir, file);
};

describe('Fault matrix: host faults during a warm reboot', () => {
  it('QEMU killed during suspend', async () => {
    const fault = injectFault('QEMU killed during suspend');
    const host = await newHost();
    const hold = holdAgentAt(env, host, 'vm2:stopped');
    const name = await operator(host);
    await hold.reached();
    process.kill(await vmPid(host.lab.vm('vm2').argv), 'SIGKILL');
    await sleep(200);
    hold.release();
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.compensated,
      }),
    );
  });

  it('QEMU killed during resume', async () => {
    const fault = injectFault('QEMU killed during resume');
    const host = await newHost();
    const hold = holdAgentAt(env, host, 'vm2:started');
    const name = await operator(host);
    await hold.reached();
    for (const pid of await findVmProcesses(host.lab.vm('vm2').argv)) process.kill(pid, 'SIGKILL');
    await sleep(200);
    hold.release();
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.compensated,
      }),
    );
  });

  it('device-state file deleted before resume', async () => {
    const fault = injectFault('device-state file deleted before resume');
    const host = await newHost();
    const hold = holdAgentAt(env, host, 'vm2:quit');
    const name = await operator(host);
    await hold.reached();
    unlinkSync(stateFileOf(host, 'vm2'));
    hold.release();
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.compensated,
      }),
    );
  });

  it('device-state file corrupted before resume', async () => {
    const fault = injectFault('device-state file corrupted before resume');
    const host = await newHost();
    const hold = holdAgentAt(env, host, 'vm2:quit');
    const name = await operator(host);
    await hold.reached();
    const file = stateFileOf(host, 'vm2');
    const bytes = readFileSync(file);
    // Same size (so only QEMU can tell), the device sections overwritten with noise.
    randomBytes(bytes.length - 64).copy(bytes, 32);
    writeFileSync(file, bytes);
    expect(statSync(file).size).toBe(bytes.length);
    hold.release();
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.compensated,
      }),
    );
  });

  it('host agent stops answering in the middle of WarmReboot (frozen; the command times out)', async () => {
    const fault = injectFault('host agent frozen mid-command (command timed out)');
    const host = await newHost();
    const hold = holdAgentAt(env, host, 'vm1:saved');
    const name = await operator(host);
    const agentPid = await hold.reached();
    process.kill(agentPid, 'SIGSTOP');
    env.ssm.setAgentEnvironment(host.instanceId, {});
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name],
      faultOnRecord: onRecord.caught(/HostCommandTimeoutError: WarmReboot .* did not finish/),
    });
    expectSurvived(verdict);
  });

  it('Preflight fails (non-zero exit): the inventory on the host is unreadable', async () => {
    const fault = injectFault('Preflight document fails');
    const host = await newHost();
    const file = inventoryFileOf(host, 'vm1');
    const original = readFileSync(file);
    writeFileSync(file, '{"name": "vm1", "argv": [');
    const name = await operator(host);
    whenFinished(host, 'Preflight', () => writeFileSync(file, original));
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: (records) =>
          records.some((r) => r.step === 'Preflight' && (r.outcome === 'failed' || r.outcome === 'refused')),
      }),
    );
  });

  it('WarmReboot fails (non-zero exit): the inventory breaks between Preflight and WarmReboot', async () => {
    const fault = injectFault('WarmReboot document fails');
    const host = await newHost();
    const file = inventoryFileOf(host, 'vm2');
    const original = readFileSync(file);
    whenFinished(host, 'Preflight', () => writeFileSync(file, 'not json'));
    whenFinished(host, 'WarmReboot', () => writeFileSync(file, original));
    const name = await operator(host);
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.caught(/HostCommandFailedError: WarmReboot failed/),
      }),
    );
  });

  it('a guest frozen after its warm reboot: Verify times out; the guest continues once thawed', async () => {
    const fault = injectFault('guest frozen after warm reboot (Verify timed out)');
    const host = await newHost();
    let frozen = 0;
    whenFinished(host, 'WarmReboot', async () => {
      frozen = await vmPid(host.lab.vm('vm2').argv);
      process.kill(frozen, 'SIGSTOP');
    });
    whenFinished(host, 'Verify', () => {
      if (frozen !== 0) signalIfAlive(frozen, 'SIGCONT');
    });
    const name = await operator(host);
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.caught(/HostCommandTimeoutError: Verify/),
      }),
    );
  });

  it('Verify fails (non-zero exit): a guest QEMU process dies after its warm reboot', async () => {
    const fault = injectFault('Verify document fails');
    const host = await newHost();
    whenFinished(host, 'WarmReboot', async () => {
      process.kill(await vmPid(host.lab.vm('vm2').argv), 'SIGKILL');
    });
    const name = await operator(host);
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.caught(/HostCommandFailedError: Verify failed/),
      }),
    );
  });

  it('the host does not come back before the deadline', async () => {
    const fault = injectFault('host not back before the deadline');
    const host = await newHost(1);
    whenFinished(host, 'WarmReboot', () => env.ssm.setOnline(host.instanceId, false));
    const name = await operator(host);
    await env.stepFunctions.execution(name)?.done;
    env.ssm.setOnline(host.instanceId, true);
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: (records) => records.some((r) => /HostNotBackError/.test(r.reason ?? '')),
      }),
    );
  });
});

describe('Fault matrix: the coordinator', () => {
  it('a conditional-check conflict: another writer moves the host record mid-execution', async () => {
    const fault = injectFault('conditional-check conflict (host record moved by another writer)');
    const host = await newHost(1);
    whenFinished(host, 'WarmReboot', async () => {
      await createDocumentClient(env.client).send(
        new UpdateCommand({
          TableName: env.tables.hosts,
          Key: { hostId: host.hostId },
          UpdateExpression: 'SET stateVersion = stateVersion + :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    });
    const name = await operator(host);
    expectSurvived(
      await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: (records) => records.some((r) => /StaleHostStateError/.test(r.reason ?? '')),
      }),
    );
  });

  for (const [label, stepId, patterns] of [
    ['a transition (Advance to RELOADING)', 'Advance', [/"to":"RELOADING"/]],
    ['the WarmReboot SendCommand', 'HostCommandStart', [/"document":"WarmReboot"/]],
  ] as const) {
    it(`a Lambda crashes after its write, before it returns, and is retried: ${label} happens once`, async () => {
      const fault = injectFault(`Lambda crash after write, retried: ${label}`);
      const host = await newHost(1);
      handlerFaults.push({
        stepId,
        inputMatches: [new RegExp(`"hostId":"${host.hostId}"`), ...patterns],
        kind: 'crash-after-return',
        times: 1,
        hits: 0,
      });
      const name = await operator(host);
      const verdict = await checkInvariants({
        fault,
        env,
        host,
        executions: [name],
        faultOnRecord: onRecord.recordedOnce,
      });
      expect(handlerFaults.at(-1)?.hits).toBe(1);
      expectSurvived(verdict);
      expect(env.stepFunctions.execution(name)?.status).toBe('SUCCEEDED');
      const warmReboots = env.ssm
        .commands()
        .filter(
          (c) => c.instanceId === host.instanceId && c.documentName === env.documentNames['WarmReboot'],
        );
      expect(warmReboots).toHaveLength(1);
      const reloading = verdict.records.filter((r) => r.toState === 'RELOADING');
      expect(reloading).toHaveLength(1);
    });
  }

  it('a lock lease expires while its execution is stalled; another takes over; the stale one is fenced', async () => {
    const fault = injectFault('lease expired while stalled; taken over; stale execution fenced');
    const host = await newHost(1);
    handlerFaults.push({
      stepId: 'Advance',
      inputMatches: [new RegExp(`"hostId":"${host.hostId}"`), /"to":"DRAINING"/],
      kind: { stallMs: 14_000 },
      times: 1,
      hits: 0,
    });
    const stale = await operator(host, 'stale');
    // Past the 12 s lease: the stalled execution's lock has expired.
    await sleep(13_000);
    const usurper = await operator(host, 'usurper');
    await env.stepFunctions.execution(usurper)?.done;
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [stale, usurper],
      faultOnRecord: (records) =>
        records.some((r) =>
          /LeaseLostError|LockHeldError|StaleHostStateError|not IN_SERVICE/.test(r.reason ?? ''),
        ),
    });
    expectSurvived(verdict);
  });

  it('the same alarm delivered 10 times in parallel starts one execution', async () => {
    const fault = injectFault('same alarm delivered 10 times in parallel');
    const host = await newHost(1);
    const event = agingAlarmEvent(host.hostId);
    const answers = (await Promise.all(
      Array.from({ length: 10 }, () => env.invokeTrigger('AlarmTrigger', event)),
    )) as { status: string; executionName: string }[];
    const names = new Set(answers.map((a) => a.executionName));
    expect(names.size).toBe(1);
    expect(answers.filter((a) => a.status === 'started')).toHaveLength(1);
    const [name] = [...names];
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name ?? ''],
      faultOnRecord: (records) =>
        records.filter((r) => r.step === 'Admit' && r.outcome === 'succeeded').length === 1,
    });
    expectSurvived(verdict);
    expect(
      env.stepFunctions.executions().filter((e) => e.input.includes(`"hostId":"${host.hostId}"`)),
    ).toHaveLength(1);
  });

  it('an operator request races an alarm for the same host: one rejuvenates, the other is refused', async () => {
    const fault = injectFault('operator request racing an alarm');
    const host = await newHost(1);
    const event = agingAlarmEvent(host.hostId);
    const [alarm, op] = (await Promise.all([
      env.invokeTrigger('AlarmTrigger', event),
      env.startAsOperator({
        hostId: host.hostId,
        reason: 'race',
        requestId: 'race',
      }),
    ])) as { executionName: string }[];
    const names = [alarm?.executionName ?? '', op?.executionName ?? ''];
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: names,
      faultOnRecord: onRecord.refused,
    });
    expectSurvived(verdict);
    const statuses = names.map((n) => env.stepFunctions.execution(n)?.status).sort();
    expect(statuses).toEqual(['FAILED', 'SUCCEEDED']);
  });

  it('an execution aborted half-way (StopExecution): the reaper quarantines the host, naming its guests', async () => {
    const fault = injectFault('execution aborted half-way (StopExecution)');
    const host = await newHost();
    const name = await operator(host);
    const execution = env.stepFunctions.execution(name);
    const deadline = Date.now() + 60_000;
    while (!execution?.history.some((h) => h.type === 'StateEntered' && h.stateName === 'WarmRebootPoll')) {
      if (Date.now() > deadline) throw new Error('the execution never reached WarmRebootPoll');
      await sleep(20);
    }
    await env
      .sfnClient()
      .send(
        new StopExecutionCommand({ executionArn: execution.executionArn, cause: 'operator pressed stop' }),
      );
    const verdict = await checkInvariants({
      fault,
      env,
      host,
      executions: [name],
      faultOnRecord: (records) =>
        records.some((r) => r.step === 'Reap' && /ended ABORTED/.test(r.reason ?? '')),
    });
    expectSurvived(verdict);
    expect(execution.status).toBe('ABORTED');
    expect(await env.store.hosts.get(host.hostId)).toMatchObject({
      state: 'QUARANTINED',
      quarantineReason: expect.stringMatching(/guests vm1, vm2 may be paused/),
    });
  });
});
