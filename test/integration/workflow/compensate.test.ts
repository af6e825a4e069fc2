import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import type { HostState } from '../../../shared/domain/host-state.js';
import { compensate, type CompensationPlan } from '../../../shared/workflow/compensate.js';
import type { WorkflowContext } from '../../../shared/workflow/workflow-context.js';
import { admitClaimed } from '../../support/claims.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import { workflowDeps } from '../../support/workflow-deps.js';

let t: TestTables;
let clock: ManualClock;
let n = 0;

beforeAll(async () => {
  t = await freshTables();
  clock = new ManualClock(Date.UTC(2026, 10, 25));
});

/** An admitted host moved straight to `state` (as if the workflow got that far), and its context. */
async function hostIn(state: HostState): Promise<WorkflowContext> {
  const store = t.store(clock);
  const hostId = `cmp-${++n}`;
  await registerHost(store, hostId, `p${n}`);
  const ctx = await admitClaimed(workflowDeps(store, clock), `exec-${n}`, {
    hostId,
    trigger: 'alarm',
    principal: 'cw',
    reason: 'aging',
  });
  const host = await store.hosts.get(hostId);
  await t.documents.send(
    new PutCommand({ TableName: t.tables.hosts, Item: { ...host, state, stateVersion: 5 } }),
  );
  // The context is deliberately stale (still ADMITTED@v1): compensation must read the real state.
  return ctx;
}

describe('Use case: compensate', () => {
  it.each<[HostState, CompensationPlan, HostState]>([
    ['ADMITTED', 'release', 'IN_SERVICE'],
    ['DRAINING', 'undrain', 'UNDRAINING'],
    ['DRAINED', 'undrain', 'UNDRAINING'],
    ['SUSPENDING', 'recover', 'RECOVERING'],
    ['RELOADING', 'recover', 'RECOVERING'],
    ['RESUMING', 'recover', 'RECOVERING'],
    ['VERIFYING', 'recover', 'RECOVERING'],
    ['RECOVERING', 'recover', 'RECOVERING'],
    ['UNDRAINING', 'undrain', 'UNDRAINING'],
  ])('from %s plans %s and leaves the host %s', async (state, plan, after) => {
    const ctx = await hostIn(state);
    const store = t.store(clock);
    const result = await compensate(workflowDeps(store, clock), ctx, {
      Error: 'HostCommandFailedError',
      Cause: 'boom',
    });
    expect(result.plan).toBe(plan);
    expect(result.ctx.hostState).toBe(after);
    expect(await store.hosts.get(ctx.request.hostId)).toMatchObject({
      state: after,
      stateVersion: result.ctx.hostVersion,
    });
  });

  it('quarantines rather than recovers a host that cannot be reached', async () => {
    const ctx = await hostIn('RESUMING');
    const result = await compensate(workflowDeps(t.store(clock), clock), ctx, {
      Error: 'HostNotBackError',
      Cause: 'gone',
    });
    expect(result.plan).toBe('quarantine');
  });

  it('touches nothing on a host it does not own', async () => {
    const ctx = await hostIn('DRAINED');
    const foreign = { ...ctx, executionId: 'someone-else' };
    const store = t.store(clock);
    const result = await compensate(workflowDeps(store, clock), foreign, { Error: 'X', Cause: 'y' });
    expect(result.plan).toBe('release');
    expect((await store.hosts.get(ctx.request.hostId)).state).toBe('DRAINED');
  });

  it('extracts the message of a Lambda-shaped cause', async () => {
    const ctx = await hostIn('ADMITTED');
    const cause = JSON.stringify({
      errorType: 'PreflightRefusedError',
      errorMessage: 'preflight refused host: vm2 private RAM',
    });
    const result = await compensate(workflowDeps(t.store(clock), clock), ctx, {
      Error: 'PreflightRefusedError',
      Cause: cause,
    });
    expect(result.reason).toBe('PreflightRefusedError: preflight refused host: vm2 private RAM');
  });

  it('takes back a lock that expired and was taken over and given back, then compensates', async () => {
    const ctx = await hostIn('DRAINED');
    const store = t.store(clock);
    clock.advance(61_000);
    const usurper = await store.hostLock.acquire(ctx.request.hostId, 'exec-usurper', 60_000);
    await store.hostLock.release(usurper);

    const result = await compensate(workflowDeps(store, clock), ctx, {
      Error: 'LeaseLostError',
      Cause: 'stalled',
    });
    expect(result.plan).toBe('undrain');
    expect(await store.hosts.get(ctx.request.hostId)).toMatchObject({ state: 'UNDRAINING' });
    expect(result.ctx.lock.fencingToken).toBeGreaterThan(usurper.fencingToken);
    expect(await store.hostLock.current(ctx.request.hostId)).toEqual(result.ctx.lock);
    expect((await store.poolSemaphore.holders(ctx.pool, 16)).map((l) => l.owner)).toEqual([ctx.executionId]);
  });

  it('waits (LockHeldError, retried by the state machine) while another execution holds the lock; moves nothing', async () => {
    const ctx = await hostIn('SUSPENDING');
    const store = t.store(clock);
    clock.advance(61_000);
    await store.hostLock.acquire(ctx.request.hostId, 'exec-other', 60_000);
    await expect(
      compensate(workflowDeps(store, clock), ctx, { Error: 'LeaseLostError', Cause: 'stalled' }),
    ).rejects.toMatchObject({ name: 'LockHeldError' });
    expect(await store.hosts.get(ctx.request.hostId)).toMatchObject({ state: 'SUSPENDING', stateVersion: 5 });
  });
});
