/**
 * Releasing a quarantined host as an operator, on DynamoDB Local. The checks run through a small
 * HostCommands of the test's own (the port is rejuv's, not AWS's) that answers each document as scripted
 * and keeps SSM's step-key contract (one command per step key), polled with a clock that each wait moves.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/domain/clock.js';
import {
  HostNotFoundError,
  HostNotQuarantinedError,
  HostUnavailableError,
  LockHeldError,
  ReleaseCheckFailedError,
  StaleHostStateError,
  ValidationError,
} from '../../../shared/domain/errors.js';
import type {
  HostCommandInvocation,
  HostCommandRequest,
  HostCommands,
} from '../../../shared/ports/host-commands.js';
import type { OperatorUseCaseDeps, ReleaseCheck } from '../../../shared/operator/operator-deps.js';
import { releaseHost } from '../../../shared/operator/release-host.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';
import { registerHost } from '../../support/hosts.js';
import { hostResultLine } from '../../support/host-result-lines.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-deps.js';
import { chainOf, OPERATOR, operatorDeps, placeIn, snapshot } from './operator-support.js';

type Answer = Omit<HostCommandInvocation, 'commandId' | 'instanceId'>;

const ok = (check: ReleaseCheck, vms: string[] = ['vm1']): Answer => ({
  status: 'Success',
  responseCode: 0,
  stdout: `${hostResultLine(check, {
    outcome: 'ok',
    vms: vms.map((name) => ({ name, outcome: check === 'Preflight' ? 'ready' : 'verified' })),
  })}\n`,
  stderr: '',
});
const refused = (check: ReleaseCheck, reason: string, reasonCode = 'vm-not-ready'): Answer => ({
  status: 'Failed',
  responseCode: 3,
  stdout: `${hostResultLine(check, { outcome: 'refused', reason, reasonCode })}\n`,
  stderr: '',
});
const RUNNING: Answer = { status: 'InProgress', responseCode: -1, stdout: '', stderr: '' };

/** Answers each document with its script (in progress for `pendingPolls` looks first); one command per step key. */
class ScriptedChecks implements HostCommands {
  readonly sent: HostCommandRequest[] = [];
  readonly cancelled: string[] = [];
  private readonly byStepKey = new Map<string, string>();
  private readonly looks = new Map<string, number>();
  constructor(
    readonly script: Record<string, Answer>,
    readonly pendingPolls = 1,
  ) {}
  async send(request: HostCommandRequest): Promise<{ commandId: string }> {
    const existing = this.byStepKey.get(request.stepKey);
    if (existing !== undefined) return { commandId: existing };
    this.sent.push(request);
    const commandId = `cmd-${this.sent.length}`;
    this.byStepKey.set(request.stepKey, commandId);
    return { commandId };
  }
  async invocation(commandId: string, instanceId: string): Promise<HostCommandInvocation> {
    const looks = (this.looks.get(commandId) ?? 0) + 1;
    this.looks.set(commandId, looks);
    const request = this.sent[Number(commandId.slice(4)) - 1];
    const answer = request === undefined ? undefined : this.script[request.documentName];
    const cancelled = this.cancelled.includes(commandId);
    return {
      commandId,
      instanceId,
      ...(cancelled
        ? { ...RUNNING, status: 'Cancelled' }
        : looks <= this.pendingPolls || answer === undefined
          ? RUNNING
          : answer),
    };
  }
  async cancel(commandId: string): Promise<void> {
    this.cancelled.push(commandId);
  }
}

const { Preflight, Verify } = TEST_WORKFLOW_CONFIG.documents;

let t: TestTables;
let clock: ManualClock;
let n = 0;

beforeAll(async () => {
  t = await freshTables();
  clock = new ManualClock(Date.UTC(2026, 10, 25));
});

function depsWith(commands: HostCommands): OperatorUseCaseDeps {
  // Each wait moves the clock, so deadlines pass without real sleeping.
  return { ...operatorDeps(t, clock, commands), sleep: async (ms) => clock.advance(ms) };
}

async function quarantinedHost(extra: Record<string, unknown> = {}): Promise<string> {
  const hostId = `rel-${++n}`;
  await registerHost(t.store(clock), hostId);
  await placeIn(t, hostId, 'QUARANTINED', 6, extra);
  return hostId;
}

describe('Use case: releaseHost', () => {
  it('runs Preflight then Verify of the quarantining run, releases, clears the reason, audits it all', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({ [Preflight]: ok('Preflight'), [Verify]: ok('Verify') }, 3);
    const deps = depsWith(commands);
    const result = await releaseHost(deps, OPERATOR, {
      hostId,
      reason: 'vm2 restarted by hand',
      requestId: 'r-1',
    });

    expect(result.host).toMatchObject({ state: 'IN_SERVICE', stateVersion: 7 });
    expect(result.host.quarantineReason).toBeUndefined();
    expect(result.host.executionId).toBeUndefined();
    expect(result.host.lastTransition).toMatchObject({
      from: 'QUARANTINED',
      to: 'IN_SERVICE',
      executionId: result.releaseId,
    });
    expect(result.checks.map((c) => [c.check, c.passed])).toEqual([
      ['Preflight', true],
      ['Verify', true],
    ]);
    expect(commands.sent.map((s) => [s.documentName, s.parameters, s.stepKey])).toEqual([
      [
        Preflight,
        { level: 'vmm-process', runId: result.releaseId, allowSilentGuests: 'false', executionTimeout: '60' },
        `${result.releaseId}:Preflight`,
      ],
      [
        Verify,
        { runId: 'op-h-0123456789abcdef', silentAtPreflight: '-', executionTimeout: '60' },
        `${result.releaseId}:Verify`,
      ],
    ]);
    const chain = await chainOf(t, hostId);
    expect(
      chain.map((r) => [r.eventId.slice(result.releaseId.length + 1), r.outcome, r.principal, r.trigger]),
    ).toEqual([
      ['intent', 'started', OPERATOR, 'operator'],
      ['Preflight', 'succeeded', OPERATOR, 'operator'],
      ['Verify', 'succeeded', OPERATOR, 'operator'],
      ['done', 'succeeded', OPERATOR, 'operator'],
    ]);
    expect(chain[0]?.detail).toMatchObject({
      forced: false,
      quarantineReason: 'vm2 did not resume',
      quarantinedBy: 'op-h-0123456789abcdef',
    });
    expect(await deps.hostLock.current(hostId)).toBeUndefined();
  });

  it('a failing check leaves the host QUARANTINED; the chain names the check and why; Verify never runs', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({
      [Preflight]: refused('Preflight', 'vm2: QMP is not reachable'),
      [Verify]: ok('Verify'),
    });
    const deps = depsWith(commands);
    const before = await deps.hosts.get(hostId);
    const release = releaseHost(deps, OPERATOR, { hostId, reason: 'looks fine', requestId: 'r-2' });
    await expect(release).rejects.toThrow(ReleaseCheckFailedError);
    await expect(release).rejects.toThrow(
      /stays QUARANTINED: Preflight did not pass: Preflight refused \(Failed\): vm2: QMP is not reachable/,
    );
    expect(await deps.hosts.get(hostId)).toEqual(before);
    expect(commands.sent.map((s) => s.documentName)).toEqual([Preflight]);
    const chain = await chainOf(t, hostId);
    expect(chain.map((r) => r.outcome)).toEqual(['started', 'failed', 'refused']);
    expect(chain[2]).toMatchObject({ toState: 'QUARANTINED', detail: { failedCheck: 'Preflight' } });
    expect(chain[2]?.reason).toMatch(/not released: Preflight refused .*vm2: QMP is not reachable/);
    expect(await deps.hostLock.current(hostId)).toBeUndefined();

    // Retried with the same request id: the same command's verdict, nothing sent or appended again.
    const afterFirst = await snapshot(t, hostId);
    await expect(
      releaseHost(deps, OPERATOR, { hostId, reason: 'looks fine', requestId: 'r-2' }),
    ).rejects.toThrow(ReleaseCheckFailedError);
    expect(commands.sent).toHaveLength(1);
    expect(await snapshot(t, hostId)).toEqual(afterFirst);
  });

  it('a check still running at its deadline is cancelled and fails the release', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({ [Preflight]: ok('Preflight') }, Number.MAX_SAFE_INTEGER);
    await expect(releaseHost(depsWith(commands), OPERATOR, { hostId, reason: 'r' })).rejects.toThrow(
      /Preflight did not finish within 60 s \(last status InProgress\); cancelled/,
    );
    expect(commands.cancelled).toEqual(['cmd-1']);
    expect((await t.store().hosts.get(hostId)).state).toBe('QUARANTINED');
  });

  it('a Verify of a run that never reached WarmReboot is not applicable: the host is released', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({
      [Preflight]: ok('Preflight'),
      [Verify]: refused('Verify', 'no WarmReboot run op-h-0123456789abcdef on this host', 'unknown-run'),
    });
    const result = await releaseHost(depsWith(commands), OPERATOR, { hostId, reason: 'r' });
    expect(result.host.state).toBe('IN_SERVICE');
    expect(result.checks[1]?.summary).toBe(
      'Verify not applicable: no WarmReboot run op-h-0123456789abcdef on this host',
    );
  });

  it('forced: no check runs, even on a host marked unavailable, and the record says forced', async () => {
    const hostId = await quarantinedHost({
      unavailable: { reason: 'offline', since: '2026-11-24T00:00:00.000Z' },
    });
    const commands = new ScriptedChecks({});
    const result = await releaseHost(depsWith(commands), OPERATOR, {
      hostId,
      reason: 'rebuilt',
      force: true,
    });
    expect(result).toMatchObject({ forced: true, checks: [], host: { state: 'IN_SERVICE' } });
    expect(commands.sent).toEqual([]);
    const chain = await chainOf(t, hostId);
    expect(chain.map((r) => [r.outcome, r.detail?.['forced']])).toEqual([
      ['started', true],
      ['succeeded', true],
    ]);
    expect(chain[1]?.reason).toBe('forced release, checks skipped: rebuilt');
  });

  it('refuses, writing nothing: bad input, an unknown host, a host not QUARANTINED, an unavailable one', async () => {
    const hostId = await quarantinedHost({
      unavailable: { reason: 'offline', since: '2026-11-24T00:00:00.000Z' },
    });
    const inService = `rel-${++n}`;
    await registerHost(t.store(), inService);
    const deps = depsWith(new ScriptedChecks({ [Preflight]: ok('Preflight'), [Verify]: ok('Verify') }));
    const before = [await snapshot(t, hostId), await snapshot(t, inService)];

    for (const input of [
      { hostId, reason: '' },
      { hostId, reason: 'r', force: 'yes' },
      { hostId, reason: 'r', requestId: 'not/ok' },
      { hostId, reason: 'r', principal: 'admin' },
    ])
      await expect(releaseHost(deps, OPERATOR, input)).rejects.toThrow(ValidationError);
    await expect(releaseHost(deps, '', { hostId, reason: 'r' })).rejects.toThrow(ValidationError);
    await expect(releaseHost(deps, OPERATOR, { hostId: 'nowhere', reason: 'r' })).rejects.toThrow(
      HostNotFoundError,
    );
    await expect(releaseHost(deps, OPERATOR, { hostId: inService, reason: 'r' })).rejects.toThrow(
      new HostNotQuarantinedError(inService, 'IN_SERVICE').message,
    );
    await expect(releaseHost(deps, OPERATOR, { hostId, reason: 'r' })).rejects.toThrow(HostUnavailableError);

    expect([await snapshot(t, hostId), await snapshot(t, inService)]).toEqual(before);
    expect(await chainOf(t, 'nowhere')).toEqual([]);
  });

  it('a retry after the release returns the host and appends nothing; a fresh request is refused', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({ [Preflight]: ok('Preflight'), [Verify]: ok('Verify') });
    const deps = depsWith(commands);
    const first = await releaseHost(deps, OPERATOR, { hostId, reason: 'r', requestId: 'ticket-9' });
    const before = await snapshot(t, hostId);
    const again = await releaseHost(deps, OPERATOR, { hostId, reason: 'r', requestId: 'ticket-9' });
    expect(again).toMatchObject({ replayed: true, releaseId: first.releaseId, host: first.host });
    expect(await snapshot(t, hostId)).toEqual(before);
    expect(commands.sent).toHaveLength(2);
    await expect(
      releaseHost(deps, OPERATOR, { hostId, reason: 'r', requestId: 'ticket-10' }),
    ).rejects.toThrow(HostNotQuarantinedError);
  });

  it('a crash after the checks passed: the retry runs no document again and releases once', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({ [Preflight]: ok('Preflight'), [Verify]: ok('Verify') });
    const deps = depsWith(commands);
    let crash = true;
    const crashing: OperatorUseCaseDeps = {
      ...deps,
      hosts: new Proxy(deps.hosts, {
        get: (target, prop, receiver) =>
          prop === 'transition' && crash
            ? () => {
                crash = false;
                return Promise.reject(new Error('Runtime exited'));
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(releaseHost(crashing, OPERATOR, { hostId, reason: 'r', requestId: 'c-1' })).rejects.toThrow(
      'Runtime exited',
    );
    const result = await releaseHost(deps, OPERATOR, { hostId, reason: 'r', requestId: 'c-1' });
    expect(result.host.state).toBe('IN_SERVICE');
    expect(commands.sent).toHaveLength(2);
    expect((await chainOf(t, hostId)).map((r) => r.outcome)).toEqual([
      'started',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
  });

  it('a host changed during the checks loses the conditional write, and the chain says so', async () => {
    const hostId = await quarantinedHost();
    const commands = new ScriptedChecks({ [Preflight]: ok('Preflight'), [Verify]: ok('Verify') });
    const deps = depsWith(commands);
    const racing: OperatorUseCaseDeps = {
      ...deps,
      hosts: new Proxy(deps.hosts, {
        get: (target, prop, receiver) =>
          prop === 'transition'
            ? async (...args: Parameters<typeof target.transition>) => {
                // Another operator's forced release and a new quarantine, behind this one's back.
                await t.documents.send(
                  new UpdateCommand({
                    TableName: t.tables.hosts,
                    Key: { hostId },
                    UpdateExpression: 'SET stateVersion = :v',
                    ExpressionAttributeValues: { ':v': 8 },
                  }),
                );
                return target.transition(...args);
              }
            : Reflect.get(target, prop, receiver),
      }),
    };
    await expect(releaseHost(racing, OPERATOR, { hostId, reason: 'r' })).rejects.toThrow(StaleHostStateError);
    expect(await deps.hosts.get(hostId)).toMatchObject({ state: 'QUARANTINED', stateVersion: 8 });
    const chain = await chainOf(t, hostId);
    expect(chain.map((r) => r.outcome)).toEqual(['started', 'succeeded', 'succeeded', 'skipped']);
    expect(chain[3]?.reason).toMatch(/^not released: host .* is QUARANTINED@v8/);
    expect(await deps.hostLock.current(hostId)).toBeUndefined();
  });

  it('refuses while another release holds the host lock, before writing anything', async () => {
    const hostId = await quarantinedHost();
    const deps = depsWith(new ScriptedChecks({ [Preflight]: ok('Preflight'), [Verify]: ok('Verify') }));
    const held = await deps.hostLock.acquire(hostId, 'rel-someone-else', 60_000);
    const before = await snapshot(t, hostId);
    await expect(releaseHost(deps, OPERATOR, { hostId, reason: 'r' })).rejects.toThrow(LockHeldError);
    expect(await snapshot(t, hostId)).toEqual(before);
    await deps.hostLock.release(held);
  });
});
