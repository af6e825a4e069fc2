import { describe, expect, it } from 'vitest';
import {
  expectDocumentResult,
  HostResultUnreadableError,
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

describe('Function: readHostResult (the coordinator’s reading)', () => {
  it('keeps the silent VMs of a Preflight result', () => {
    expect(readHostResult(line(preflight))?.silentVms).toEqual(['vm-dead']);
  });

  it('finds no result in a line whose silent VM is not a VM name', () => {
    expect(readHostResult(line({ ...preflight, silentVms: ['../etc'] }))).toBeUndefined();
    expect(readHostResult(line({ ...preflight, silentVms: 'vm-dead' }))).toBeUndefined();
  });
});
