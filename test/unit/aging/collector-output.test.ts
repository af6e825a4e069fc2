import { describe, expect, it } from 'vitest';
import {
  judgeCollection,
  judgeCollectorOutput,
  type CollectorVerdict,
} from '../../../shared/aging/collector-output.js';

const GIB = 2 ** 30;
const NOW = new Date(Date.UTC(2026, 11, 1, 12, 0));
const target = { hostId: 'host-1', instanceId: 'mi-0123456789abcdef0' };

/** A line as the agent prints it, with `changes` merged in (a path of keys to a value). */
function line(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const value: Record<string, unknown> = {
    document: 'CollectAging',
    schemaVersion: 1,
    outcome: 'ok',
    hostId: 'host-1',
    instanceId: 'mi-0123456789abcdef0',
    measuredAt: NOW.getTime() - 1000,
    host: {
      memTotalBytes: 64 * GIB,
      memAvailableBytes: 40 * GIB,
      sUnreclaimBytes: 2 * GIB,
      pageTablesBytes: 200 * 2 ** 20,
      vmallocUsedBytes: 50 * 2 ** 20,
      swapFreeBytes: 4 * GIB,
      swapTotalBytes: 8 * GIB,
      uptimeSeconds: 86_400 * 90,
      unusableFreeIndex: { order9: 0.31, order10: 0.52 },
    },
    qemu: [
      { vm: 'vm1', pid: 4242, rssBytes: 8 * GIB, threads: 12, openFds: 64, uptimeSeconds: 86_400 * 30 },
      { vm: 'vm2', pid: 4343, rssBytes: 4 * GIB, threads: 9, openFds: 58, uptimeSeconds: 3600 },
    ],
    unmeasuredVms: [],
  };
  for (const [path, v] of Object.entries(changes)) {
    const keys = path.split('.');
    let at = value as Record<string, unknown>;
    for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
    at[keys.at(-1) as string] = v;
  }
  return value;
}
const stdout = (value: unknown) => `some noise on stdout\n${JSON.stringify(value)}\n`;

function refusal(verdict: CollectorVerdict): { code: string; reason: string } {
  if (verdict.outcome !== 'refused') throw new Error('expected a refusal, got an accepted measurement');
  return { code: verdict.code, reason: verdict.reason };
}

describe('Function: judgeCollectorOutput', () => {
  it('accepts a well-formed line and attributes it to the targeted host', () => {
    const verdict = judgeCollectorOutput(stdout(line()), target, NOW);
    expect(verdict).toMatchObject({
      outcome: 'accepted',
      measurement: {
        hostId: 'host-1',
        instanceId: 'mi-0123456789abcdef0',
        qemu: [{ vm: 'vm1' }, { vm: 'vm2' }],
      },
    });
  });

  it('accepts a fleet-wide reply (hostId null) whose instance id is the targeted instance', () => {
    const verdict = judgeCollectorOutput(stdout(line({ hostId: null })), target, NOW);
    expect(verdict.outcome).toBe('accepted');
  });

  it.each([
    ['nothing at all', '', 'no-result', /no JSON line/],
    ['a line cut off mid-way', JSON.stringify(line()).slice(0, 300), 'truncated', /cut off after 300/],
    ['NaN as Python writes it', JSON.stringify(line()).replace('0.31', 'NaN'), 'not-json', /NaN or Infinity/],
    [
      'Infinity',
      JSON.stringify(line()).replace('"uptimeSeconds":7776000', '"uptimeSeconds":Infinity'),
      'not-json',
      /NaN or Infinity/,
    ],
    ['garbage', '{not json}', 'not-json', /not JSON/],
  ])('refuses %s', (_what, text, code, reason) => {
    const verdict = refusal(judgeCollectorOutput(text, target, NOW));
    expect(verdict.code).toBe(code);
    expect(verdict.reason).toMatch(reason);
  });

  it.each([
    ['a string for a number', { 'host.memAvailableBytes': '40000' }, /host\.memAvailableBytes/],
    ['a negative byte count', { 'host.sUnreclaimBytes': -1 }, /cannot be negative/],
    ['a fractional byte count', { 'host.pageTablesBytes': 1.5 }, /whole bytes/],
    ['more than 64 TiB', { 'host.memTotalBytes': 2 ** 50 }, /64 TiB/],
    ['MemAvailable above MemTotal', { 'host.memAvailableBytes': 65 * GIB }, /exceeds MemTotal/],
    ['SwapFree above SwapTotal', { 'host.swapFreeBytes': 9 * GIB }, /exceeds SwapTotal/],
    ['more RSS than the host has', { 'qemu.0.rssBytes': 65 * GIB }, /vm1's RSS .* exceeds MemTotal/],
    ['an uptime of a century', { 'host.uptimeSeconds': 100 * 365 * 86_400 }, /more than 30 years/],
    [
      'a process older than the kernel',
      { 'qemu.1.uptimeSeconds': 86_400 * 91 },
      /exceeds the kernel's uptime/,
    ],
    ['an index above 1', { 'host.unusableFreeIndex': { order9: 1.2 } }, /above 1/],
    ['no order9 index', { 'host.unusableFreeIndex': { order10: 0.2 } }, /order9/],
    ['a process with no thread', { 'qemu.0.threads': 0 }, /thread/],
    ['a VM reported twice', { 'qemu.1.vm': 'vm1' }, /reported twice/],
    ['a VM name with a slash', { 'qemu.0.vm': '../vm1' }, /VM name/],
    ['a missing host section', { host: undefined }, /host/],
    ['another schema version', { schemaVersion: 2 }, /schemaVersion/],
  ])('refuses %s, naming the field', (_what, changes, reason) => {
    const verdict = refusal(judgeCollectorOutput(stdout(line(changes)), target, NOW));
    expect(verdict.code).toBe('invalid');
    expect(verdict.reason).toMatch(reason);
  });

  it('refuses a reply from another host, by host id or by instance id', () => {
    expect(refusal(judgeCollectorOutput(stdout(line({ hostId: 'host-2' })), target, NOW))).toEqual({
      code: 'wrong-host',
      reason: 'the reply is from host host-2, the command was for host-1',
    });
    const otherInstance = line({ instanceId: 'mi-0fedcba9876543210' });
    expect(refusal(judgeCollectorOutput(stdout(otherInstance), target, NOW)).code).toBe('wrong-host');
  });

  it('refuses a fleet-wide reply that names no instance to check', () => {
    const anonymous = line({ hostId: null, instanceId: undefined });
    expect(refusal(judgeCollectorOutput(stdout(anonymous), target, NOW)).code).toBe('unattributable');
  });

  it('refuses a measurement from the future or older than CloudWatch keeps', () => {
    const ahead = line({ measuredAt: NOW.getTime() + 3_600_000 });
    expect(refusal(judgeCollectorOutput(stdout(ahead), target, NOW)).code).toBe('from-the-future');
    const old = line({ measuredAt: NOW.getTime() - 15 * 86_400_000 });
    expect(refusal(judgeCollectorOutput(stdout(old), target, NOW)).code).toBe('stale');
  });

  it("passes on the agent's own failure line as a refusal with its reason", () => {
    const failed = {
      document: 'CollectAging',
      outcome: 'failed',
      reason: 'python3 is not installed',
      reasonCode: 'no-python',
      vms: [],
      schemaVersion: 1,
    };
    expect(refusal(judgeCollectorOutput(stdout(failed), target, NOW))).toEqual({
      code: 'collector-failed',
      reason: 'the collector failed: python3 is not installed (no-python)',
    });
  });
});

describe('Function: judgeCollection', () => {
  it('judges each host on its own: broken replies refuse their host only', () => {
    const verdicts = judgeCollection(
      [
        { target, stdout: stdout(line()) },
        { target: { hostId: 'host-2' }, stdout: '{"document":"CollectAging","outc' },
        {
          target: { hostId: 'host-3' },
          stdout: stdout(line({ hostId: 'host-3', 'host.memAvailableBytes': -5 })),
        },
      ],
      NOW,
    );
    expect(verdicts.map((v) => [v.hostId, v.outcome])).toEqual([
      ['host-1', 'accepted'],
      ['host-2', 'refused'],
      ['host-3', 'refused'],
    ]);
  });

  it('refuses every reply of a host that answered twice in one round', () => {
    const verdicts = judgeCollection(
      [
        { target, stdout: stdout(line()) },
        { target, stdout: stdout(line({ 'host.memAvailableBytes': 30 * GIB })) },
        { target: { hostId: 'host-3' }, stdout: stdout(line({ hostId: 'host-3' })) },
      ],
      NOW,
    );
    expect(verdicts.map((v) => (v.outcome === 'refused' ? v.code : v.outcome))).toEqual([
      'duplicate-host',
      'duplicate-host',
      'accepted',
    ]);
  });
});
