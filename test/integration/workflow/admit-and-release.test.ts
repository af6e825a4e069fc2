import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/adapters/dynamodb/dynamodb-store.js';
import { hostChainId } from '../../../shared/domain/audit-record.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  HostNotFoundError,
  HostNotInServiceError,
  LockHeldError,
  PoolFullError,
  HostUnavailableError,
  UnclaimedExecutionError,
  ValidationError,
} from '../../../shared/domain/errors.js';
import { admit } from '../../../shared/workflow/admit.js';
import { recordRefusal } from '../../../shared/workflow/refuse.js';
import { advance } from '../../../shared/workflow/advance.js';
import { release } from '../../../shared/workflow/release.js';
import { admitClaimed, claimAsTrigger } from '../../support/claims.js';
import { freshTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import { RecordingNotifier, TEST_WORKFLOW_CONFIG, workflowDeps } from '../../support/workflow-deps.js';
import { parsePolicyConfig } from '../../../shared/policy/policy-config.js';
import { PolicyRefusedError } from '../../../shared/policy/policy-errors.js';

let store: Store;
let clock: ManualClock;
let n = 0;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 25));
  store = (await freshTables()).store(clock);
});

/** A registered host, alone in its pool unless a test names a shared one. */
async function newHost(sharedPool?: string): Promise<string> {
  const hostId = `wf-${++n}`;
  const pool = sharedPool ?? `pool-${n}`;
  await registerHost(store, hostId, pool);
  return hostId;
}

const request = (hostId: string, extra: Record<string, unknown> = {}) => ({
  hostId,
  trigger: 'operator' as const,
  principal: 'alice@example.com',
  reason: 'scheduled rejuvenation',
  ...extra,
});

async function auditSteps(hostId: string): Promise<string[]> {
  const steps: string[] = [];
  for await (const r of store.audit.read(hostChainId(hostId)))
    steps.push(`${r.step}:${r.outcome}${r.toState ? `>${r.toState}` : ''}`);
  return steps;
}

describe('Use case: admit', () => {
  it('takes the lock and a pool slot, moves the host to ADMITTED and records it', async () => {
    const hostId = await newHost();
    const ctx = await admitClaimed(workflowDeps(store, clock), 'exec-a', request(hostId));
    expect(ctx).toMatchObject({
      hostState: 'ADMITTED',
      hostVersion: 1,
      lock: { owner: 'exec-a' },
      poolSlot: { owner: 'exec-a' },
    });
    expect(await store.hostLock.current(hostId)).toEqual(ctx.lock);
    expect(await auditSteps(hostId)).toEqual(['Admit:succeeded>ADMITTED']);
  });

  it('retried after a crash, carries on with the same lock, slot and transition, recorded once', async () => {
    const hostId = await newHost();
    const first = await admitClaimed(workflowDeps(store, clock), 'exec-r', request(hostId));
    const again = await admitClaimed(workflowDeps(store, clock), 'exec-r', request(hostId));
    expect(again).toMatchObject({
      hostState: 'ADMITTED',
      hostVersion: 1,
      lock: { fencingToken: first.lock.fencingToken },
    });
    expect(again.poolSlot.resource).toBe(first.poolSlot.resource);
    expect(await auditSteps(hostId)).toEqual(['Admit:succeeded>ADMITTED']);
  });

  it('refuses a host another execution holds, touching nothing', async () => {
    const hostId = await newHost();
    await admitClaimed(workflowDeps(store, clock), 'exec-1', request(hostId));
    await expect(admitClaimed(workflowDeps(store, clock), 'exec-2', request(hostId))).rejects.toThrow(
      LockHeldError,
    );
    expect(await store.hosts.get(hostId)).toMatchObject({ executionId: 'exec-1', stateVersion: 1 });
  });

  it('when the pool is full, gives the host lock back so waiting holds nothing', async () => {
    const [a, b] = [await newHost('tight'), await newHost('tight')];
    await admitClaimed(workflowDeps(store, clock), 'exec-t1', request(a));
    await expect(admitClaimed(workflowDeps(store, clock), 'exec-t2', request(b))).rejects.toThrow(
      PoolFullError,
    );
    expect(await store.hostLock.current(b)).toBeUndefined();
    expect((await store.hosts.get(b)).state).toBe('IN_SERVICE');
  });

  it('refuses a quarantined host and releases what it took', async () => {
    const hostId = await newHost();
    let ctx = await admitClaimed(workflowDeps(store, clock), 'exec-q', request(hostId));
    ctx = await advance(workflowDeps(store, clock), ctx, 'QUARANTINED', { step: 'Test', reason: 'broken' });
    await release(workflowDeps(store, clock), ctx, { Error: 'Test', Cause: 'broken' });
    await expect(admitClaimed(workflowDeps(store, clock), 'exec-q2', request(hostId))).rejects.toThrow(
      HostNotInServiceError,
    );
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    expect(await store.poolSemaphore.holders((await store.hosts.get(hostId)).pool, 2)).toEqual([]);
  });

  it('refuses a host SSM no longer reaches (marked unavailable by the sync), taking nothing', async () => {
    const hostId = await newHost();
    const host = await store.hosts.get(hostId);
    await store.hosts.setAvailability(hostId, host.stateVersion, {
      reason: 'offline',
      since: '2026-11-25T00:00:00.000Z',
    });
    await expect(admitClaimed(workflowDeps(store, clock), 'exec-u', request(hostId))).rejects.toThrow(
      HostUnavailableError,
    );
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    expect(await store.poolSemaphore.holders(host.pool, 2)).toEqual([]);
    expect(await store.hosts.get(hostId)).toMatchObject({
      state: 'IN_SERVICE',
      stateVersion: host.stateVersion,
    });
  });

  it('in a dry run, checks everything but moves nothing', async () => {
    const hostId = await newHost();
    const ctx = await admitClaimed(workflowDeps(store, clock), 'exec-d', request(hostId, { dryRun: true }));
    expect(ctx.hostState).toBe('IN_SERVICE');
    expect(await store.hosts.get(hostId)).toMatchObject({ state: 'IN_SERVICE', stateVersion: 0 });
    expect(await auditSteps(hostId)).toEqual(['Admit:skipped']);
  });

  it.each([
    ['an unknown host', { hostId: 'nobody' }, HostNotFoundError],
    ['an unknown level', { level: 'firmware' }, ValidationError],
    ['an empty reason', { reason: '' }, ValidationError],
    ['an unknown field', { extra: 1 }, ValidationError],
  ])('refuses %s before taking anything', async (_what, override, error) => {
    const hostId = await newHost();
    await expect(
      admitClaimed(workflowDeps(store, clock), `exec-bad-${hostId}`, { ...request(hostId), ...override }),
    ).rejects.toThrow(error);
    expect(await store.hostLock.current(hostId)).toBeUndefined();
  });
});

describe('Use case: admit, an execution no trigger claimed', () => {
  /** What Admit could have taken or moved: the lock, a slot, the host record, its chain. */
  async function untouched(hostId: string): Promise<void> {
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    expect(await store.poolSemaphore.holders((await store.hosts.get(hostId)).pool, 2)).toEqual([]);
    expect(await store.hosts.get(hostId)).toMatchObject({ state: 'IN_SERVICE', stateVersion: 0 });
    expect(await auditSteps(hostId)).toEqual([]);
  }

  it('refuses an execution started around the triggers (no claim), taking nothing', async () => {
    const hostId = await newHost();
    const forged = request(hostId, { principal: 'arn:aws:iam::123456789012:role/admin' });
    await expect(admit(workflowDeps(store, clock), 'op-forged-1', forged)).rejects.toMatchObject({
      name: 'UnclaimedExecutionError',
      finding: 'no-claim',
      executionId: 'op-forged-1',
    });
    await untouched(hostId);
  });

  it('refuses an execution whose input is not the request its trigger claimed, taking nothing', async () => {
    const hostId = await newHost();
    await claimAsTrigger(store, 'op-altered-1', request(hostId));
    const altered = request(hostId, { principal: 'mallory', allowSilentGuests: true });
    await expect(admit(workflowDeps(store, clock), 'op-altered-1', altered)).rejects.toMatchObject({
      name: 'UnclaimedExecutionError',
      finding: 'request-differs',
    });
    await untouched(hostId);
    // The claimed request itself is admitted under that name.
    expect(await admit(workflowDeps(store, clock), 'op-altered-1', request(hostId))).toMatchObject({
      hostState: 'ADMITTED',
    });
  });

  it('refuses an unknown host the same way when unclaimed: it does not learn whether the host exists', async () => {
    await expect(admit(workflowDeps(store, clock), 'op-probe-1', request('no-such-host'))).rejects.toThrow(
      UnclaimedExecutionError,
    );
  });
});

describe('Use case: record a refusal', () => {
  const refusalOf = async (hostId: string) => {
    const records = [];
    for await (const r of store.audit.read(hostChainId(hostId))) records.push(r);
    return records.filter((r) => r.step === 'Admit' && r.outcome === 'refused');
  };

  it('records an unclaimed execution on the host chain with its principal marked unverified', async () => {
    const hostId = await newHost();
    const notifier = new RecordingNotifier();
    const forged = request(hostId, { principal: 'arn:aws:iam::123456789012:role/admin' });
    const error = await admit(workflowDeps(store, clock), 'op-forged-2', forged).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnclaimedExecutionError);
    const refusal = await recordRefusal(workflowDeps(store, clock, { notifier }), 'op-forged-2', forged, {
      Error: (error as Error).name,
      Cause: JSON.stringify({ errorMessage: (error as Error).message }),
    });
    expect(refusal).toMatchObject({
      outcome: 'refused',
      kind: 'unclaimed',
      hostId,
      reason: expect.stringMatching(/no trigger claim/),
    });
    expect(await refusalOf(hostId)).toEqual([
      expect.objectContaining({
        principal: 'unverified:arn:aws:iam::123456789012:role/admin',
        executionId: 'op-forged-2',
        detail: {
          error: 'UnclaimedExecutionError',
          refusalKind: 'unclaimed',
          principalVerified: false,
          claimedPrincipal: 'arn:aws:iam::123456789012:role/admin',
          claim: 'no-claim',
        },
      }),
    ]);
    expect(notifier.sent).toEqual([expect.objectContaining({ kind: 'refused', hostId })]);
  });

  it('keeps a principal its trigger vouched for (a claimed execution refused for the host’s state)', async () => {
    const hostId = await newHost();
    await claimAsTrigger(store, 'op-held-1', request(hostId));
    await recordRefusal(workflowDeps(store, clock), 'op-held-1', request(hostId), {
      Error: 'LockHeldError',
      Cause: 'host#x is locked',
    });
    expect(await refusalOf(hostId)).toEqual([
      expect.objectContaining({
        principal: 'alice@example.com',
        detail: { error: 'LockHeldError', refusalKind: 'host-locked' },
      }),
    ]);
  });

  it('marks unverified a principal longer than room allows, keeping the whole of it in the detail', async () => {
    const hostId = await newHost();
    const principal = `arn:aws:iam::123456789012:role/${'r'.repeat(220)}`;
    await recordRefusal(workflowDeps(store, clock), 'op-long-1', request(hostId, { principal }), {
      Error: 'UnclaimedExecutionError',
    });
    const [record] = await refusalOf(hostId);
    expect(record?.principal).toBe(`unverified:${principal}`.slice(0, 256));
    expect(record?.detail?.['claimedPrincipal']).toBe(principal);
  });
});

describe('Use case: advance', () => {
  it('renews the lock and the pool slot once less than half is left, so a long execution keeps them', async () => {
    const hostId = await newHost();
    const deps = workflowDeps(store, clock);
    const admitted = await admitClaimed(deps, 'exec-long', request(hostId));
    clock.advance(TEST_LEASE_MS * 0.4);
    const draining = await advance(deps, admitted, 'DRAINING', { step: 'Drain' });
    expect(draining.lock).toEqual(admitted.lock);
    clock.advance(TEST_LEASE_MS * 0.2);
    const drained = await advance(deps, draining, 'DRAINED', { step: 'Drain' });
    expect(drained.lock.expiresAtMs).toBe(clock.nowMs() + TEST_LEASE_MS);
    expect(drained.poolSlot.expiresAtMs).toBe(clock.nowMs() + TEST_LEASE_MS);
    expect(drained.lock.fencingToken).toBe(admitted.lock.fencingToken);
    clock.advance(TEST_LEASE_MS * 0.6);
    // Past the first lease's expiry: the renewed one still fences for this execution.
    const suspending = await advance(deps, drained, 'SUSPENDING', { step: 'WarmReboot' });
    expect(suspending.hostState).toBe('SUSPENDING');
    expect((await store.hostLock.current(hostId))?.owner).toBe('exec-long');
  });
});

describe('Use case: release', () => {
  it.each([
    ['HostCommandFailedError', 'WarmReboot failed on host: vm1 died', 'recovered', 'compensated'],
    ['PreflightRefusedError', 'preflight refused host: vm1 private RAM', 'refused', 'refused'],
  ])(
    'after %s, gives back lock and slot, records the outcome and notifies',
    async (error, cause, outcome, audited) => {
      const hostId = await newHost();
      const notifier = new RecordingNotifier();
      const deps = workflowDeps(store, clock, { notifier });
      let ctx = await admitClaimed(deps, `exec-rel-${error}`, request(hostId));
      ctx = await advance(deps, ctx, 'IN_SERVICE', { step: 'Compensate', reason: 'test' });
      const result = await release(deps, ctx, { Error: error, Cause: cause });
      expect(result).toMatchObject({ outcome, hostState: 'IN_SERVICE' });
      expect(await store.hostLock.current(hostId)).toBeUndefined();
      expect(notifier.sent).toEqual([
        expect.objectContaining({ kind: outcome, hostId, executionId: `exec-rel-${error}` }),
      ]);
      expect(notifier.sent[0]?.message).toContain(`${error}: ${cause}`);
      expect((await auditSteps(hostId)).at(-1)).toBe(`Release:${audited}`);
    },
  );

  it('reports a lease lost to a takeover instead of failing, so the execution still ends', async () => {
    const hostId = await newHost();
    const deps = workflowDeps(store, clock);
    const ctx = await admitClaimed(deps, 'exec-slow', request(hostId));
    clock.advance(TEST_LEASE_MS + 1);
    await store.hostLock.acquire(hostId, 'exec-new', 60_000);
    const result = await release(deps, ctx, { Error: 'Test', Cause: 'stalled' });
    expect(result.executionId).toBe('exec-slow');
    expect((await store.hostLock.current(hostId))?.owner).toBe('exec-new');
  });
});

const TEST_LEASE_MS = 60_000;

describe('Use case: admit under the policy gate', () => {
  const gate = (alarms: string[]) => ({
    config: parsePolicyConfig({ pools: {}, defaultPool: { blockerAlarmPatterns: ['blk-*'] } }),
    alarms: { namesInAlarm: async () => alarms },
  });

  it('refuses while a blocker is in ALARM, giving back the lock a crashed earlier attempt took', async () => {
    const hostId = await newHost();
    // The first attempt took the lock and died before deciding anything else.
    await store.hostLock.acquire(hostId, 'exec-blk', TEST_WORKFLOW_CONFIG.leaseDurationMs);
    const deps = workflowDeps(store, clock, { policy: gate(['blk-latency']) });
    const error = await admitClaimed(deps, 'exec-blk', request(hostId)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyRefusedError);
    expect(error).toMatchObject({ rule: 'blocker', untilMs: undefined });
    expect((error as Error).message).toContain('blk-latency');
    expect(await store.hostLock.current(hostId)).toBeUndefined();
    expect(await store.hosts.get(hostId)).toMatchObject({ state: 'IN_SERVICE', stateVersion: 0 });
  });

  it('admits once the blocker clears, recording the decision on the Admit record', async () => {
    const hostId = await newHost();
    await admitClaimed(
      workflowDeps(store, clock, { policy: gate(['other-alarm']) }),
      'exec-clr',
      request(hostId),
    );
    const records = [];
    for await (const r of store.audit.read(hostChainId(hostId))) records.push(r);
    const admitted = records.find((r) => r.step === 'Admit');
    expect(admitted?.detail).toMatchObject({ policyVerdict: 'allow' });
  });
});
