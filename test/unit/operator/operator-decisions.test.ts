/** The operator use cases' input schemas and pure decisions: what is refused before anything is read. */
import { describe, expect, it } from 'vitest';
import { HostOwnedByExecutionError } from '../../../shared/domain/errors.js';
import type { Host } from '../../../shared/domain/host.js';
import { HOST_STATES, OWNED_STATES } from '../../../shared/domain/host-state.js';
import { DeregisterHostInputSchema, refuseOwned } from '../../../shared/operator/deregister-host.js';
import { RegisterHostInputSchema } from '../../../shared/operator/register-host.js';
import { checkParameters, judgeCheck, releaseId } from '../../../shared/operator/release-checks.js';
import { ReleaseHostInputSchema } from '../../../shared/operator/release-host.js';
import type { ReleaseCheck } from '../../../shared/operator/operator-deps.js';
import { hostResultLine } from '../../support/host-result-lines.js';

const host: Host = {
  hostId: 'host.1',
  pool: 'web',
  availabilityZone: 'az-1',
  instanceId: 'mi-00000000000000001',
  state: 'QUARANTINED',
  stateVersion: 7,
  executionId: 'op-host-1-abc',
  cordoned: false,
  tags: {},
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-02T00:00:00.000Z',
};

const ran = (
  check: ReleaseCheck,
  line: Readonly<Record<string, unknown>>,
  status: 'Success' | 'Failed' = 'Success',
) => ({
  status,
  responseCode: status === 'Success' ? 0 : 1,
  stdout: `progress\n${hostResultLine(check, line)}\n`,
  stderr: '',
});

describe('Schema: register request', () => {
  it('records an omitted availability zone as unknown, as the host sync does', () => {
    expect(
      RegisterHostInputSchema.parse({ hostId: 'h-1', instanceId: 'mi-0123456789abcdef0', pool: 'web' }),
    ).toMatchObject({ availabilityZone: 'unknown' });
  });

  it.each([
    [{ hostId: 'h-1', pool: 'web' }, /instanceId/],
    [{ hostId: 'h 1', instanceId: 'mi-0123456789abcdef0', pool: 'web' }, /host id/],
    [{ hostId: 'h-1', instanceId: 'vm-1', pool: 'web' }, /instance id/],
    [{ hostId: 'h-1', instanceId: 'mi-0123456789abcdef0', pool: 'web', availabilityZone: 'EU 1' }, /zone/],
    [{ hostId: 'h-1', instanceId: 'mi-0123456789abcdef0', pool: 'web', state: 'QUARANTINED' }, /state/],
  ])('refuses %j, naming the field', (input, message) => {
    const parsed = RegisterHostInputSchema.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(message);
  });
});

describe('Schema: deregister and release requests', () => {
  it('requires a reason that is not blank', () => {
    expect(DeregisterHostInputSchema.safeParse({ hostId: 'h-1' }).success).toBe(false);
    expect(DeregisterHostInputSchema.safeParse({ hostId: 'h-1', reason: '   ' }).success).toBe(false);
    expect(ReleaseHostInputSchema.safeParse({ hostId: 'h-1', force: true }).success).toBe(false);
  });

  it('takes force as a boolean only, false unless given, and a request id of a narrow alphabet', () => {
    expect(ReleaseHostInputSchema.parse({ hostId: 'h-1', reason: 'fixed' })).toEqual({
      hostId: 'h-1',
      reason: 'fixed',
      force: false,
    });
    expect(ReleaseHostInputSchema.safeParse({ hostId: 'h-1', reason: 'r', force: 'true' }).success).toBe(
      false,
    );
    expect(ReleaseHostInputSchema.safeParse({ hostId: 'h-1', reason: 'r', requestId: 'a:b' }).success).toBe(
      false,
    );
    expect(ReleaseHostInputSchema.safeParse({ hostId: 'h-1', reason: 'r', principal: 'me' }).success).toBe(
      false,
    );
  });
});

describe('Decision: deregister refuses an owned host', () => {
  it.each(HOST_STATES)('%s', (state) => {
    const owned = OWNED_STATES.has(state);
    const at = { ...host, state, ...(state === 'IN_SERVICE' ? { executionId: undefined } : {}) };
    if (owned)
      expect(() => refuseOwned(at)).toThrow(new RegExp(`is ${state}, owned by execution op-host-1-abc`));
    else expect(() => refuseOwned(at)).not.toThrow();
  });

  it('an IN_SERVICE host that still names an execution is treated as owned', () => {
    expect(() => refuseOwned({ ...host, state: 'IN_SERVICE' })).toThrow(HostOwnedByExecutionError);
  });
});

describe('Decision: release id', () => {
  it('is fixed by host, registration, quarantine version and request id, and fits an execution id', () => {
    const id = releaseId(host, 7, 'ticket-42');
    expect(id).toMatch(/^rel-host_1-[0-9a-f]{16}$/);
    expect(releaseId(host, 7, 'ticket-42')).toBe(id);
    expect(releaseId(host, 8, 'ticket-42')).not.toBe(id);
    expect(releaseId({ ...host, createdAt: '2026-12-01T00:00:00.000Z' }, 7, 'ticket-42')).not.toBe(id);
    expect(releaseId(host, 7, 'ticket-43')).not.toBe(id);
    expect(releaseId({ ...host, hostId: 'h'.repeat(63) }, 7, 'x').length).toBeLessThanOrEqual(80);
  });

  it('verifies the run that quarantined the host, and never lets a silent guest through Preflight', () => {
    expect(checkParameters('Preflight', 'rel-1', 'op-1')).toEqual({
      level: 'vmm-process',
      runId: 'rel-1',
      allowSilentGuests: 'false',
    });
    expect(checkParameters('Verify', 'rel-1', 'op-1')).toEqual({ runId: 'op-1', silentAtPreflight: '-' });
  });
});

describe('Decision: judging a check', () => {
  it('passes only a successful document whose result is ok', () => {
    expect(
      judgeCheck('Preflight', ran('Preflight', { outcome: 'ok', vms: [{ name: 'vm1', outcome: 'ready' }] })),
    ).toEqual({
      passed: true,
      summary: 'Preflight passed: vm1 ready',
    });
    expect(judgeCheck('Preflight', ran('Preflight', { outcome: 'ok' }, 'Failed')).passed).toBe(false);
  });

  it('fails a refusal or a failure with the reasons the host gave, per VM', () => {
    const verdict = judgeCheck(
      'Verify',
      ran(
        'Verify',
        {
          outcome: 'failed',
          reason: '1 of 2 VMs failed verification',
          vms: [{ name: 'vm2', outcome: 'failed', reason: 'QMP is not reachable' }],
        },
        'Failed',
      ),
    );
    expect(verdict).toEqual({
      passed: false,
      summary: 'Verify failed (Failed): 1 of 2 VMs failed verification; vm2: QMP is not reachable',
    });
  });

  it('fails a document that printed no result, with the end of its stderr', () => {
    expect(
      judgeCheck('Preflight', { status: 'Failed', responseCode: 2, stdout: 'Traceback', stderr: 'boom' }),
    ).toEqual({
      passed: false,
      summary:
        'Preflight Failed (exit 2) without a result (host document result unreadable: stdout has no JSON line); stderr: boom',
    });
  });

  it('counts Verify of a run that never reached WarmReboot as not applicable, and only Verify', () => {
    const unknownRun = (check: ReleaseCheck) =>
      ran(
        check,
        { outcome: 'refused', reasonCode: 'unknown-run', reason: 'no WarmReboot run op-1 on this host' },
        'Failed',
      );
    expect(judgeCheck('Verify', unknownRun('Verify'))).toEqual({
      passed: true,
      summary: 'Verify not applicable: no WarmReboot run op-1 on this host',
    });
    expect(judgeCheck('Preflight', unknownRun('Preflight')).passed).toBe(false);
    const otherRefusal = ran(
      'Verify',
      { outcome: 'refused', reasonCode: 'unknown-vm', reason: 'x' },
      'Failed',
    );
    expect(judgeCheck('Verify', otherRefusal).passed).toBe(false);
  });
});
