import { describe, expect, it } from 'vitest';
import {
  expectDocumentResult,
  HostResultUnreadableError,
  HostResultVersionError,
  parseHostDocumentResult,
} from '../../../host/results/host-document-result.js';
import { readHostResult } from '../../../shared/workflow/host-result.js';

const line = (value: unknown) => `agent log line\n${JSON.stringify(value)}\n`;

const preflight = {
  schemaVersion: 1,
  document: 'Preflight',
  outcome: 'ok',
  runId: 'r1',
  level: 'vmm-process',
  allowSilentGuests: true,
  silentVms: ['vm-dead'],
  vms: [
    {
      name: 'vm-dead',
      outcome: 'ready',
      heartbeat: { advancing: false, first: 7, last: 7, sampledMs: 1001.5 },
    },
    { name: 'vm-live', outcome: 'ready', heartbeat: { advancing: true, first: 7, last: 8, sampledMs: 10.2 } },
  ],
};

describe('Function: parseHostDocumentResult', () => {
  it('reads a Preflight result with heartbeat samples and the silent VMs', () => {
    const result = expectDocumentResult(parseHostDocumentResult(line(preflight)), 'Preflight');
    expect(result.silentVms).toEqual(['vm-dead']);
    expect(result.vms[0]?.heartbeat).toEqual({ advancing: false, first: 7, last: 7, sampledMs: 1001.5 });
  });

  it('reads a heartbeat whose log had no counter yet, or could not be read', () => {
    const silent = { advancing: false, first: null, last: null, problem: 'heartbeat log unreadable: gone' };
    const result = parseHostDocumentResult(
      line({ ...preflight, vms: [{ name: 'vm-dead', outcome: 'refused', heartbeat: silent }] }),
    );
    expect(expectDocumentResult(result, 'Preflight').vms[0]?.heartbeat).toEqual(silent);
  });

  it('refuses a heartbeat sample without its advancing verdict', () => {
    const vms = [{ name: 'vm-a', outcome: 'ready', heartbeat: { first: 1, last: 2 } }];
    expect(() => parseHostDocumentResult(line({ ...preflight, vms }))).toThrow(HostResultUnreadableError);
    expect(() => parseHostDocumentResult(line({ ...preflight, vms }))).toThrow(
      /vms\.0\.heartbeat\.advancing/,
    );
  });

  it('reads a Verify result that excused a guest silent at Preflight', () => {
    const verify = {
      schemaVersion: 1,
      document: 'Verify',
      outcome: 'ok',
      runId: 'r1',
      silentAtPreflight: ['vm-dead'],
      vms: [
        { name: 'vm-dead', outcome: 'silent-at-preflight', silentAtPreflight: true, reason: 'still silent' },
        { name: 'vm-live', outcome: 'verified', heartbeatAtSuspend: 10, heartbeatNow: 40 },
      ],
    };
    const result = expectDocumentResult(parseHostDocumentResult(line(verify)), 'Verify');
    expect(result.vms.map((vm) => vm.outcome)).toEqual(['silent-at-preflight', 'verified']);
  });
});

describe('Function: parseHostDocumentResult, schemaVersion', () => {
  it.each([
    ['another version', { ...preflight, schemaVersion: 2 }, 'schemaVersion 2'],
    ['no version', { ...preflight, schemaVersion: undefined }, 'schemaVersion undefined'],
    ['a version as a string', { ...preflight, schemaVersion: '1' }, 'schemaVersion "1"'],
  ])('refuses a line with %s by its own error, naming what it found', (_what, value, found) => {
    expect(() => parseHostDocumentResult(line(value))).toThrow(HostResultVersionError);
    expect(() => parseHostDocumentResult(line(value))).toThrow(
      `${found}; this coordinator reads version 1 only`,
    );
  });

  it('checks the version before the shape: a newer line is not reported as malformed', () => {
    const newer = { schemaVersion: 2, document: 'Preflight', verdict: 'fine' };
    expect(() => parseHostDocumentResult(line(newer))).toThrow(HostResultVersionError);
  });
});

describe('Function: parseHostDocumentResult, trimmed lines', () => {
  const warmReboot = (vms: unknown[]) =>
    line({ schemaVersion: 1, document: 'WarmReboot', outcome: 'ok', detailTrimmed: true, vms });

  it('reads a WarmReboot line the agent trimmed to each VM’s name, outcome and pause', () => {
    const result = parseHostDocumentResult(warmReboot([{ name: 'vm-a', outcome: 'resumed', pauseMs: 120 }]));
    expect(expectDocumentResult(result, 'WarmReboot')).toMatchObject({ detailTrimmed: true });
  });

  it('refuses a VM that is neither whole nor trimmed', () => {
    const vm = { name: 'vm-a', outcome: 'resumed', pauseMs: 120, pidAfter: 7 };
    expect(() => parseHostDocumentResult(warmReboot([vm]))).toThrow(HostResultUnreadableError);
  });
});

describe('Function: readHostResult (the coordinator’s reading, with the same schema)', () => {
  it('keeps the silent VMs of a Preflight result and gathers the reasons', () => {
    const [dead, live] = preflight.vms;
    const refused = {
      ...preflight,
      outcome: 'refused',
      reason: 'not ready',
      vms: [{ ...dead, reason: 'heartbeat silent' }, live],
    };
    const { result } = readHostResult(line(refused), 'Preflight');
    expect(result?.document === 'Preflight' ? result.silentVms : undefined).toEqual(['vm-dead']);
    expect(result?.reasons).toEqual(['not ready', 'vm-dead: heartbeat silent']);
  });

  it('finds no result in a line whose silent VM is not a VM name, and says why', () => {
    expect(readHostResult(line({ ...preflight, silentVms: ['../etc'] }), 'Preflight')).toEqual({
      problem: expect.stringMatching(/silentVms\.0: VM name/),
    });
    expect(readHostResult(line({ ...preflight, silentVms: 'vm-dead' }), 'Preflight').result).toBeUndefined();
  });

  it('finds no result in a line of another document, but reads the agent’s unparsed-request answer', () => {
    expect(readHostResult(line(preflight), 'Verify')).toEqual({
      problem: 'expected a Verify result, got Preflight',
    });
    const unparsed = { schemaVersion: 1, document: 'unknown', outcome: 'refused', reason: 'bad', vms: [] };
    expect(readHostResult(line(unparsed), 'Verify').result?.reasons).toEqual(['bad']);
  });

  it('carries a version mismatch as its error, for the step to fail with', () => {
    const reading = readHostResult(line({ ...preflight, schemaVersion: 2 }), 'Preflight');
    expect(reading.result).toBeUndefined();
    expect(reading.versionError).toBeInstanceOf(HostResultVersionError);
  });
});
