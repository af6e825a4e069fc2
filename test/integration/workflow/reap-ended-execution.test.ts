/** The reaper on the real store: what an execution that ended without its cleanup left is put right once. */
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostChainId } from '../../../shared/domain/audit-record.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import type { HostState } from '../../../shared/domain/host-state.js';
import { reapEndedExecution } from '../../../shared/workflow/reap-ended-execution.js';
import { admitClaimed } from '../../support/claims.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import { RecordingNotifier, workflowDeps } from '../../support/workflow-deps.js';

let t: TestTables;
let clock: ManualClock;
let n = 0;

beforeAll(async () => {
  t = await freshTables();
  clock = new ManualClock(Date.UTC(2026, 10, 25));
});

const request = (hostId: string) => ({ hostId, trigger: 'operator', principal: 'alice', reason: 'planned' });

function endedEvent(name: string, hostId: string, status: string) {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: `arn:aws:states:local:000000000000:execution:rejuv:${name}`,
      stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:rejuv',
      name,
      status,
      startDate: clock.nowMs(),
      input: JSON.stringify({ ...request(hostId), level: 'vmm-process', dryRun: false }),
    },
  };
}

/** A host admitted by execution `exec-<n>` and then moved to `state`, with a Preflight result on record. */
async function orphanedIn(state: HostState) {
  const store = t.store(clock);
  const hostId = `reap-${++n}`;
  const name = `exec-${n}`;
  await registerHost(store, hostId, `p${n}`);
  await admitClaimed(workflowDeps(store, clock), name, request(hostId));
  await store.audit.append(hostChainId(hostId), {
    eventId: `${name}:Preflight:result`,
    at: new Date(clock.nowMs()).toISOString(),
    principal: 'alice',
    trigger: 'operator',
    executionId: name,
    step: 'Preflight',
    outcome: 'succeeded',
    detail: { summary: JSON.stringify([{ name: 'vm1' }, { name: 'vm2' }]) },
  });
  if (state !== 'ADMITTED') {
    const host = await store.hosts.get(hostId);
    await t.documents.send(
      new PutCommand({ TableName: t.tables.hosts, Item: { ...host, state, stateVersion: 7 } }),
    );
  }
  return { store, hostId, name };
}

describe('Use case: reap an execution that ended without its cleanup', () => {
  it('an aborted execution that left its host SUSPENDING: quarantined naming the guests, lock and slot given back, audited and notified once', async () => {
    const { store, hostId, name } = await orphanedIn('SUSPENDING');
    const notifier = new RecordingNotifier();
    const deps = workflowDeps(store, clock, { notifier });
    const result = await reapEndedExecution(deps, endedEvent(name, hostId, 'ABORTED'));
    expect(result).toMatchObject({ status: 'reaped', quarantined: true, hostState: 'QUARANTINED' });
    expect(await store.hosts.get(hostId)).toMatchObject({
      state: 'QUARANTINED',
      quarantineReason: expect.stringMatching(
        /ended ABORTED with the host SUSPENDING; guests vm1, vm2 may be paused/,
      ),
    });
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    expect(await store.poolSemaphore.holders(`p${n}`, 16)).toEqual([]);
    expect(notifier.sent.map((m) => m.subject)).toEqual([`rejuv: host ${hostId} quarantined`]);
    expect(await store.audit.verify(hostChainId(hostId))).toMatchObject({ ok: true });

    const reapRecords = async () => {
      const steps: string[] = [];
      for await (const r of store.audit.read(hostChainId(hostId)))
        if (r.step === 'Reap') steps.push(`${r.outcome}>${r.toState ?? ''}`);
      return steps;
    };
    // The move to QUARANTINED and the reaping itself.
    expect(await reapRecords()).toEqual(['succeeded>QUARANTINED', 'failed>']);
    const again = await reapEndedExecution(deps, endedEvent(name, hostId, 'ABORTED'));
    expect(again).toMatchObject({ status: 'ignored' });
    expect(notifier.sent).toHaveLength(1);
    expect(await reapRecords()).toEqual(['succeeded>QUARANTINED', 'failed>']);
  });

  it('an execution that timed out right after Admit: nothing was touched, so its host goes back to service (not quarantine), lock and slot given back', async () => {
    const { store, hostId, name } = await orphanedIn('ADMITTED');
    const host = await store.hosts.get(hostId);
    const notifier = new RecordingNotifier();
    const result = await reapEndedExecution(
      workflowDeps(store, clock, { notifier }),
      endedEvent(name, hostId, 'TIMED_OUT'),
    );
    expect(result).toMatchObject({
      status: 'reaped',
      hostState: 'IN_SERVICE',
      quarantined: false,
      returnedToService: true,
    });
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    expect(await store.poolSemaphore.holders(host.pool, 16)).toEqual([]);
    expect(await store.hosts.get(hostId)).toMatchObject({
      state: 'IN_SERVICE',
      stateVersion: host.stateVersion + 1,
      lastTransition: { from: 'ADMITTED', to: 'IN_SERVICE', executionId: name },
    });
    expect(notifier.sent).toEqual([]);
    const reaped: string[] = [];
    for await (const r of store.audit.read(hostChainId(hostId)))
      if (r.step === 'Reap') reaped.push(`${r.outcome}>${r.toState ?? ''}: ${r.reason ?? ''}`);
    expect(reaped).toEqual([
      expect.stringMatching(
        /^succeeded>IN_SERVICE: .*ended TIMED_OUT with the host ADMITTED, before anything/,
      ),
      expect.stringMatching(/^compensated>: /),
    ]);
  });

  it.each([
    ['its lock and its pool slot', true],
    ['only its pool slot', false],
  ])(
    'an execution that put its host back in service but ended still holding %s: given back, and the reason says exactly that, not quarantine',
    async (_what, lockLeft) => {
      const { store, hostId, name } = await orphanedIn('ADMITTED');
      const lock = await store.hostLock.current(hostId);
      if (lock === undefined) throw new Error('no lock');
      if (!lockLeft) await store.hostLock.release(lock);
      const [slot, ...more] = await store.poolSemaphore.holders(`p${n}`, 16);
      if (slot === undefined || more.length > 0) throw new Error('expected one pool slot');
      const host = await store.hosts.get(hostId);
      const inService = { ...host, state: 'IN_SERVICE', stateVersion: host.stateVersion + 1 };
      await t.documents.send(new PutCommand({ TableName: t.tables.hosts, Item: inService }));
      const notifier = new RecordingNotifier();

      const result = await reapEndedExecution(
        workflowDeps(store, clock, { notifier }),
        endedEvent(name, hostId, 'FAILED'),
      );

      const given = lockLeft ? [slot.resource, lock.resource] : [slot.resource];
      expect(result).toMatchObject({
        status: 'reaped',
        hostState: 'IN_SERVICE',
        quarantined: false,
        returnedToService: false,
        released: given,
      });
      expect(await store.hostLock.current(hostId)).toBeUndefined();
      expect(await store.poolSemaphore.holders(`p${n}`, 16)).toEqual([]);
      expect(await store.hosts.get(hostId)).toMatchObject({
        state: 'IN_SERVICE',
        stateVersion: inService.stateVersion,
      });
      expect(notifier.sent).toEqual([]);
      const reaped: { outcome: string; toState?: string; reason?: string; detail?: unknown }[] = [];
      for await (const r of store.audit.read(hostChainId(hostId))) if (r.step === 'Reap') reaped.push(r);
      expect(reaped).toEqual([
        expect.objectContaining({
          outcome: 'compensated',
          reason:
            `execution ${name} ended FAILED; the host (IN_SERVICE) needed nothing from it, but it still held ` +
            `${given.join(' and ')}: gave back ${given.join(' and ')}`,
          detail: expect.objectContaining({ released: given.join(',') }),
        }),
      ]);
      expect(reaped[0]?.toState).toBeUndefined(); // the host was not moved
      expect(reaped[0]?.reason).not.toMatch(/quarantin|guest|paused|Recover/i);
    },
  );

  it('an execution that released everything itself (a normal Fail state): nothing to do, nothing written', async () => {
    const { store, hostId, name } = await orphanedIn('ADMITTED');
    const lock = await store.hostLock.current(hostId);
    if (lock === undefined) throw new Error('no lock');
    await store.hostLock.release(lock);
    for (const slot of await store.poolSemaphore.holders(`p${n}`, 16))
      await store.poolSemaphore.release(slot);
    const host = await store.hosts.get(hostId);
    await t.documents.send(
      new PutCommand({ TableName: t.tables.hosts, Item: { ...host, state: 'IN_SERVICE' } }),
    );
    const before = (await t.documents.send(new ScanCommand({ TableName: t.tables.audit }))).Items?.length;
    expect(
      await reapEndedExecution(workflowDeps(store, clock), endedEvent(name, hostId, 'FAILED')),
    ).toMatchObject({
      status: 'ignored',
    });
    expect((await t.documents.send(new ScanCommand({ TableName: t.tables.audit }))).Items?.length).toBe(
      before,
    );
  });

  it('ignores executions still running or succeeded, and refuses events it cannot read', async () => {
    const { store, hostId, name } = await orphanedIn('DRAINED');
    const deps = workflowDeps(store, clock);
    for (const status of ['SUCCEEDED', 'RUNNING'])
      expect(await reapEndedExecution(deps, endedEvent(name, hostId, status))).toMatchObject({
        status: 'ignored',
      });
    const bad = endedEvent(name, hostId, 'ABORTED');
    for (const event of [
      { ...bad, source: 'aws.ec2' },
      { ...bad, detail: { ...bad.detail, name: 'exec;rm -rf' } },
      { ...bad, detail: { ...bad.detail, input: '{"hostId":"../etc"}' } },
      { ...bad, detail: { ...bad.detail, input: 'not json' } },
      null,
    ])
      await expect(reapEndedExecution(deps, event)).rejects.toThrow(ValidationError);
    expect(await store.hosts.get(hostId)).toMatchObject({ state: 'DRAINED', stateVersion: 7 });
  });
});
