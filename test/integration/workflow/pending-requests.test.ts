/**
 * No lost rejuvenations, against DynamoDB Local: Refuse queues an alarm's or a prediction's request the
 * pool or the policy turned away (one entry per host, deduplicated by request id, audited), and the
 * drainer runs it once its pool has room, exactly once however often it passes, or drops it with a
 * reason when it can never run.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { queuedRunName } from '../../../shared/campaign/pending-entry.js';
import { hostChainId } from '../../../shared/domain/audit-record.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import type { ExecutionStarter, StartedExecution } from '../../../shared/ports/execution-starter.js';
import { drainPending, type DrainPendingDeps } from '../../../shared/workflow/drain-pending.js';
import { judgeExecutionClaim } from '../../../shared/workflow/execution-claim.js';
import { recordRefusal } from '../../../shared/workflow/refuse.js';
import type { RejuvenationRequest } from '../../../shared/workflow/rejuvenation-request.js';
import { claimAsTrigger } from '../../support/claims.js';
import { freshTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import type { TestTables } from '../../support/dynamodb.js';
import { RecordingNotifier, workflowDeps } from '../../support/workflow-deps.js';

/** Step Functions' start as far as names go: one execution per name, a second start starts nothing. */
class RecordingStarter implements ExecutionStarter {
  readonly executions = new Map<string, unknown>();
  async start(executionName: string, input: unknown): Promise<StartedExecution> {
    const started = !this.executions.has(executionName);
    if (started) this.executions.set(executionName, input);
    return {
      executionArn: `arn:aws:states:us-east-1:000000000000:execution:sm:${executionName}`,
      executionName,
      started,
    };
  }
}

const DAY_MS = 24 * 3600 * 1000;
const poolFull = (pool: string) => ({
  Error: 'PoolFullError',
  Cause: JSON.stringify({
    errorType: 'PoolFullError',
    errorMessage: `pool ${pool} already has 1 host(s) in maintenance: x`,
  }),
});

let store: Store;
let tables: TestTables;
// Near real time: settled entries carry a TTL DynamoDB Local honours against the real clock.
let clock: ManualClock;
let starter: RecordingStarter;
let drainDeps: DrainPendingDeps;

beforeEach(async () => {
  tables = await freshTables();
  store = tables.store();
  clock = new ManualClock(Date.now());
  starter = new RecordingStarter();
  drainDeps = {
    pending: store.pending,
    hosts: store.hosts,
    poolSemaphore: store.poolSemaphore,
    idempotency: store.idempotency,
    executions: starter,
    audit: store.audit,
    clock,
    poolLimit: () => 1,
    maxAgeMs: DAY_MS,
    dedupeTtlSeconds: 3600,
  };
});

function alarmRequest(hostId: string, n: number): RejuvenationRequest {
  return {
    hostId,
    trigger: 'alarm',
    principal: 'cloudwatch-alarm:000000000000',
    reason: `alarm rejuv-aging-${hostId} entered ALARM (${n})`,
    level: 'vmm-process',
    dryRun: false,
    allowSilentGuests: false,
  };
}

/** An execution a trigger started and Admit refused as Step Functions hands it to Refuse. */
async function refused(executionId: string, request: RejuvenationRequest, error = poolFull('web')) {
  await claimAsTrigger(store, executionId, request);
  const deps = workflowDeps(store, clock, { notifier: new RecordingNotifier() });
  return recordRefusal(deps, executionId, request, error);
}

describe('Pending requests: queued by Refuse, run by the drainer', () => {
  it('queues refused alarms per host, merged and deduplicated, and leaves operator starts alone', async () => {
    await registerHost(store, 'q-1');
    const first = await refused('alarm-q-1-a', alarmRequest('q-1', 1));
    expect(first).toMatchObject({ kind: 'pool-full', queued: true });
    clock.advance(60_000);
    await refused('alarm-q-1-b', alarmRequest('q-1', 2));
    // A Refuse retried for the same execution changes nothing.
    await refused('alarm-q-1-b', alarmRequest('q-1', 2));
    const entry = await store.pending.get('q-1');
    expect(entry).toMatchObject({
      status: 'waiting',
      pool: 'web',
      merged: 2,
      refusalKind: 'pool-full',
      sinceMs: clock.nowMs() - 60_000,
      request: alarmRequest('q-1', 1),
    });
    expect(entry?.requests.map((r) => r.requestId)).toEqual(['alarm-q-1-a', 'alarm-q-1-b']);
    expect(entry?.waitingReason).toContain('PoolFullError');
    expect((await store.pending.listWaiting('web')).map((e) => e.hostId)).toEqual(['q-1']);
    expect(await store.pending.listWaiting('db')).toEqual([]);
    const queuedRecords = [];
    for await (const r of store.audit.read(hostChainId('q-1')))
      if (r.outcome === 'queued') queuedRecords.push(r);
    expect(queuedRecords.map((r) => r.executionId)).toEqual(['alarm-q-1-a', 'alarm-q-1-b']);

    await registerHost(store, 'q-op');
    const operator = await refused('op-q-op-1', {
      ...alarmRequest('q-op', 1),
      trigger: 'operator',
      principal: 'arn:aws:iam::000000000000:user/alice',
    });
    expect(operator).toMatchObject({ kind: 'pool-full', queued: false });
    const notInService = await refused('alarm-q-op-2', alarmRequest('q-op', 2), {
      Error: 'HostNotInServiceError',
      Cause: 'host q-op is QUARANTINED',
    });
    expect(notInService).toMatchObject({ kind: 'host-state', queued: false });
    expect(await store.pending.get('q-op')).toBeUndefined();
  });

  it('runs a queued request once its pool has room, exactly once across drainer passes', async () => {
    await registerHost(store, 'q-2');
    await refused('alarm-q-2-a', alarmRequest('q-2', 1));
    const holder = await store.poolSemaphore.acquire('web', 'someone-else', 1, 600_000);
    expect(await drainPending(drainDeps)).toMatchObject({
      started: [],
      waiting: [{ hostId: 'q-2', why: 'pool web is full' }],
    });

    await store.poolSemaphore.release(holder);
    const entry = await store.pending.get('q-2');
    if (entry === undefined) throw new Error('the refused alarm was not queued');
    const name = queuedRunName(entry);
    const [first, second] = [await drainPending(drainDeps), await drainPending(drainDeps)];
    expect(first.started).toEqual([{ hostId: 'q-2', executionName: name, started: true }]);
    expect(second.started).toEqual([]);
    expect([...starter.executions]).toEqual([[name, alarmRequest('q-2', 1)]]);
    // The run carries its trigger's request and a claim of it, so Admit admits it.
    expect(judgeExecutionClaim(name, alarmRequest('q-2', 1), await store.idempotency.claimOf(name))).toEqual({
      claimed: true,
    });
    expect(await store.pending.get('q-2')).toMatchObject({
      status: 'ran',
      requests: [],
      outcome: { outcome: 'ran', runId: name, requests: 1 },
      settledRequestIds: ['alarm-q-2-a'],
    });
    expect(await store.pending.listWaiting()).toEqual([]);
    // The same refusal handed to Refuse again (a retried Refuse) does not queue it a second time.
    await refused('alarm-q-2-a', alarmRequest('q-2', 1));
    expect((await store.pending.get('q-2'))?.status).toBe('ran');
  });

  it('two drainers racing start the run once', async () => {
    await registerHost(store, 'q-3');
    await refused('alarm-q-3-a', alarmRequest('q-3', 1));
    const results = await Promise.all([
      drainPending(drainDeps),
      drainPending(drainDeps),
      drainPending(drainDeps),
    ]);
    expect(results.flatMap((r) => r.started.filter((s) => s.started))).toHaveLength(1);
    expect(starter.executions.size).toBe(1);
    expect((await store.pending.get('q-3'))?.status).toBe('ran');
  });

  it('drops, with the reason, a request for a deregistered host and one older than the maximum age', async () => {
    const gone = await registerHost(store, 'q-gone');
    await registerHost(store, 'q-old', 'db');
    await refused('alarm-q-gone-a', alarmRequest('q-gone', 1));
    await refused('alarm-q-old-a', alarmRequest('q-old', 1));
    await store.hosts.deregister('q-gone', gone.stateVersion);
    await store.poolSemaphore.acquire('db', 'someone-else', 1, 2 * 3600_000);
    clock.advance(31 * 60_000);
    const result = await drainPending({ ...drainDeps, maxAgeMs: 30 * 60_000 });
    expect(starter.executions.size).toBe(0);
    expect(result.dropped.map((d) => d.hostId).sort()).toEqual(['q-gone', 'q-old']);
    const dropped = await store.pending.listDropped();
    expect(Object.fromEntries(dropped.map((e) => [e.hostId, e.outcome]))).toEqual({
      'q-gone': expect.objectContaining({
        outcome: 'dropped',
        reason: 'host q-gone was deregistered while its request waited',
      }),
      'q-old': expect.objectContaining({
        outcome: 'dropped',
        reason: expect.stringMatching(/^waited 31 min, longer than the 30 min/),
      }),
    });
    const drops = [];
    for await (const r of store.audit.read(hostChainId('q-gone')))
      if (r.outcome === 'dropped') drops.push(r.reason);
    expect(drops).toEqual(['host q-gone was deregistered while its request waited']);
  });

  it('drops a request whose host was rejuvenated after it, by whatever started that run', async () => {
    await registerHost(store, 'q-done');
    await refused('alarm-q-done-a', alarmRequest('q-done', 1));
    clock.advance(60_000);
    // An operator's run, say, ended after the alarm was queued: Release recorded it on the host item.
    await tables.documents.send(
      new UpdateCommand({
        TableName: tables.tables.hosts,
        Key: { hostId: 'q-done' },
        UpdateExpression: 'SET lastRejuvenatedAt = :at',
        ExpressionAttributeValues: { ':at': new Date(clock.nowMs()).toISOString() },
      }),
    );
    const result = await drainPending(drainDeps);
    expect(starter.executions.size).toBe(0);
    expect(result.dropped).toEqual([
      {
        hostId: 'q-done',
        reason: expect.stringMatching(/^host q-done was rejuvenated at .* nothing left to run$/),
      },
    ]);
    // A request received after that run is not dropped for it.
    clock.advance(60_000);
    await refused('alarm-q-done-b', alarmRequest('q-done', 2));
    const again = await drainPending(drainDeps);
    expect(again.dropped).toEqual([]);
    expect(starter.executions.size).toBe(1);
  });
});
