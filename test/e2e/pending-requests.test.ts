/**
 * No lost rejuvenations, end to end on the local stack as synthesized: in a pool limited to one, two
 * aging alarms at once; the second host's Admit runs out of retries while the first is rejuvenated, its
 * Refuse queues the request and `rejuv hosts` shows it waiting; when the first execution ends, the
 * drainer (EventBridge's rule on execution ends) runs it exactly once: another drainer pass and the
 * alarm delivered again start nothing more. A request queued for a host deregistered meanwhile is
 * dropped, with the reason shown.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostsCommand } from '../../cli/commands/hosts.js';
import { statusCommand } from '../../cli/commands/status.js';
import type { Output } from '../../cli/output.js';
import type { Target } from '../../cli/target.js';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { queuedRunName } from '../../shared/campaign/pending-entry.js';
import { addFleetHost, agingAlarmEvent } from './support/local-fleet.js';
import { auditChain, finished, type TriggerAnswer } from './support/execution.js';

let env: LocalEnvironment;

beforeAll(async () => {
  env = await startLocalEnvironment({
    coordinator: { pools: { solo: { maxHostsInMaintenance: 1 } }, defaultMaxHostsInMaintenance: 1 },
    waitMs: 100,
    // Admit's 20 attempts 50 ms apart: a second host gives up long before the first one's rejuvenation ends.
    poolSlotRetryMs: 50,
  });
});

afterEach(() => {
  expect(env.iam.refusals()).toEqual([]);
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

/** The CLI's commands in-process, against the local stack's store, printing JSON into a variable. */
async function cli(
  command: (target: Target, out: Output) => Promise<unknown>,
): Promise<Record<string, unknown>> {
  let printed: unknown;
  const out: Output = { json: true, result: (value) => (printed = value), info: () => undefined };
  await command({ store: env.store } as unknown as Target, out);
  return printed as Record<string, unknown>;
}

const alarm = async (hostId: string, stateTimestamp?: string) =>
  (await env.invokeTrigger('AlarmTrigger', agingAlarmEvent(hostId, stateTimestamp))) as TriggerAnswer;

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('End to end: queued alarms', () => {
  it('an alarm refused for a full pool is queued, shown, and run exactly once when the pool has room', async () => {
    const host = (hostId: string) => addFleetHost(env, { hostId, pool: 'solo', vms: [{ name: 'vm1' }] });
    const [first, second] = await Promise.all([host('pq-a'), host('pq-b')]);
    const firstAlarm = await alarm(first.hostId);
    // The first host holds the pool's slot before the second alarm arrives.
    await until('the first host admitted', async () =>
      (await env.store.hosts.get(first.hostId)).state === 'IN_SERVICE' ? undefined : true,
    );
    const secondEvent = agingAlarmEvent(second.hostId);
    const secondAlarm = (await env.invokeTrigger('AlarmTrigger', secondEvent)) as TriggerAnswer;
    const refused = await finished(env, secondAlarm.executionName);
    expect({ status: refused.status, error: refused.error }).toEqual({ status: 'FAILED', error: 'Refused' });

    // Queued while the first host is still in maintenance: visible in `rejuv hosts` and `rejuv status`.
    const listed = await cli((target, out) => hostsCommand(target, { pool: 'solo' }, out));
    expect(listed['pending']).toEqual([
      expect.objectContaining({
        hostId: second.hostId,
        pool: 'solo',
        status: 'waiting',
        trigger: 'alarm',
        requests: 1,
        requestIds: [secondAlarm.executionName],
        refusalKind: 'pool-full',
        waitingReason: expect.stringContaining('PoolFullError'),
      }),
    ]);
    const status = await cli((target, out) => statusCommand(target, second.hostId, out));
    expect(status['pending']).toMatchObject({ status: 'waiting', requests: 1 });
    const entry = await env.store.pending.get(second.hostId);
    if (entry === undefined) throw new Error('the refused alarm was not queued');
    const queuedName = queuedRunName(entry);

    // The first execution's end runs the drainer, which starts the queued request.
    expect((await finished(env, firstAlarm.executionName)).status).toBe('SUCCEEDED');
    await env.eventDeliveriesSettled();
    const queued = await until('the queued run', async () => env.stepFunctions.execution(queuedName));
    await queued.done;
    expect({ status: queued.status, input: JSON.parse(queued.input) as unknown }).toEqual({
      status: 'SUCCEEDED',
      input: expect.objectContaining({ hostId: second.hostId, trigger: 'alarm' }),
    });
    await env.eventDeliveriesSettled();
    expect(await env.store.pending.get(second.hostId)).toMatchObject({
      status: 'ran',
      outcome: { outcome: 'ran', runId: queuedName },
    });

    // Another drainer pass and the same alarm delivered again start nothing more.
    const again = (await env.lambda.invoke('PendingDrainFunction', {})) as { started: unknown[] };
    expect(again.started).toEqual([]);
    const redelivered = (await env.invokeTrigger('AlarmTrigger', secondEvent)) as TriggerAnswer;
    expect(redelivered).toMatchObject({ status: 'duplicate', executionName: secondAlarm.executionName });
    await env.eventDeliveriesSettled();
    const runs = env.stepFunctions
      .executions()
      .filter((e) => e.input.includes(`"hostId":"${second.hostId}"`));
    expect(runs.map((e) => e.name).sort()).toEqual([secondAlarm.executionName, queuedName].sort());
    const onRecord = (await auditChain(env, second.hostId)).filter((r) => r.step === 'Queue');
    expect(onRecord.map((r) => r.outcome)).toEqual(['queued', 'started']);
    expect((await cli((target, out) => hostsCommand(target, { pool: 'solo' }, out)))['pending']).toEqual([]);
  });

  it('a queued request for a host deregistered meanwhile is dropped, with the reason shown', async () => {
    const gone = await addFleetHost(env, { hostId: 'pq-gone', pool: 'p-drop', vms: [{ name: 'vm1' }] });
    // The pool's one slot held elsewhere for as long as the test needs (a host of another team, say), so
    // the alarm is refused and queued, and nothing frees the slot behind the test's back.
    await env.store.poolSemaphore.acquire('p-drop', 'held-elsewhere', 1, 3600_000);
    const goneAlarm = await alarm(gone.hostId);
    await finished(env, goneAlarm.executionName);
    expect((await env.store.pending.get(gone.hostId))?.status).toBe('waiting');
    const answer = await env.operatorApi.send({
      action: 'deregister',
      hostId: gone.hostId,
      reason: 'decommissioned while its alarm waited',
    });
    expect(answer.status).toBe(200);

    await env.lambda.invoke('PendingDrainFunction', {});
    // The listing reads an index, which (in DynamoDB as in DynamoDB Local) may show a settled entry a
    // moment late: wait until the listing shows the drop.
    const listed = await until('the drop listed', async () => {
      const answer = await cli((target, out) => hostsCommand(target, { pool: 'p-drop' }, out));
      return (answer['dropped'] as unknown[]).length > 0 ? answer : undefined;
    });
    expect(listed['pending']).toEqual([]);
    expect(listed['dropped']).toEqual([
      expect.objectContaining({
        hostId: gone.hostId,
        status: 'dropped',
        outcome: expect.objectContaining({
          outcome: 'dropped',
          reason: `host ${gone.hostId} was deregistered while its request waited`,
        }),
      }),
    ]);
    expect(
      env.stepFunctions.executions().filter((e) => e.input.includes(`"hostId":"${gone.hostId}"`)),
    ).toHaveLength(1);
  });
});
