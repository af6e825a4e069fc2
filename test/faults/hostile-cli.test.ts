/**
 * Hostile CLI arguments, property-based: for every option that names something (host, pool, request
 * id, execution, instant, format, level, region, profile, stack, counts), values with shell
 * metacharacters, newlines, path traversal, NUL, huge lengths and deceptive unicode. Each must end in a
 * usage error (exit 2) naming the option, before anything is contacted: the CLI runs in-process with
 * a home that has no local environment, so an argument that got through would show as exit 5, and the
 * home must stay empty.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { FAST_CHECK_SEED, huge as hugeValue, poisoned } from './support/hostile-values.js';
import { recordInputs } from './support/tally.js';

const home = mkdtempSync(join(tmpdir(), 'rejuv-hostile-cli-'));
const savedHome = process.env['REJUV_HOME'];

beforeAll(() => {
  process.env['REJUV_HOME'] = home;
});

afterAll(() => {
  if (savedHome === undefined) delete process.env['REJUV_HOME'];
  else process.env['REJUV_HOME'] = savedHome;
  rmSync(home, { recursive: true, force: true });
});

const huge = hugeValue(300);
const hostileId = fc.oneof(poisoned, huge, fc.constant(''));

/** A command line with one hostile value, and the option it is in. */
const hostileCommand: fc.Arbitrary<{ argv: string[]; option: string }> = fc.oneof(
  hostileId.map((v) => ({ argv: ['--local', 'start', '--host', v, '--reason', 'r'], option: 'host' })),
  fc
    .oneof(
      huge.map((h) => h.padEnd(1025, 'x')),
      fc.constant('   '),
      fc.constantFrom('a\u0000b', 'a\u0007b', 'a\u001bb', 'x\u007f'),
    )
    .map((v) => ({ argv: ['--local', 'start', '--host', 'h1', '--reason', v], option: 'reason' })),
  hostileId.map((v) => ({
    argv: ['--local', 'start', '--host', 'h1', '--reason', 'r', '--request-id', v],
    option: 'request id',
  })),
  fc.oneof(poisoned, fc.constantFrom('KERNEL', 'firmware', 'vmm', '')).map((v) => ({
    argv: ['--local', 'start', '--host', 'h1', '--reason', 'r', '--level', v],
    option: 'level',
  })),
  hostileId.map((v) => ({ argv: ['--local', 'status', v], option: 'execution' })),
  hostileId.map((v) => ({ argv: ['--local', 'hosts', '--pool', v], option: 'pool' })),
  hostileId.map((v) => ({ argv: ['--local', 'audit', 'verify', '--host', v], option: 'host' })),
  hostileId.map((v) => ({
    argv: ['--local', 'audit', 'export', '--format', 'jsonl', '--host', v],
    option: 'host',
  })),
  fc
    .oneof(poisoned, fc.constantFrom('yesterday', '2026-13-01T00:00:00Z', '2026-11-25', '1700000000', 'now'))
    .map((v) => ({ argv: ['--local', 'audit', 'export', '--format', 'csv', '--since', v], option: 'since' })),
  fc
    .oneof(poisoned, fc.constantFrom('xml', 'JSONL', 'json', ''))
    .map((v) => ({ argv: ['--local', 'audit', 'export', '--format', v], option: 'format' })),
  hostileId.map((v) => ({ argv: ['--region', v, 'hosts'], option: 'region' })),
  hostileId.map((v) => ({ argv: ['--profile', v, 'hosts'], option: 'profile' })),
  hostileId.map((v) => ({ argv: ['--stack', v, 'hosts'], option: 'stack' })),
  fc
    .oneof(poisoned, fc.constantFrom('0', '-5', '1.5', '1e9', 'NaN', ''))
    .map((v) => ({ argv: ['--local', '--poll-ms', v, 'hosts'], option: 'poll-ms' })),
  fc
    .oneof(poisoned, fc.constantFrom('0', '99', '-1', '2.5', 'NaN', '1e3'))
    .map((v) => ({ argv: ['local', 'up', '--detach', '--hosts', v], option: 'hosts' })),
  fc
    .stringMatching(/^[a-z]{3,12}$/)
    .filter((w) => !['help', 'json', 'local', 'region', 'profile', 'stack'].includes(w))
    .map((w) => ({ argv: ['--local', 'hosts', `--${w}`], option: 'unknown option' })),
);

describe('Hostile input: CLI arguments', () => {
  it('every hostile argument is a usage error (exit 2) and nothing is contacted or written', async () => {
    let tried = 0;
    let rejected = 0;
    let accepted = 0;
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await fc.assert(
        fc.asyncProperty(hostileCommand, async ({ argv }) => {
          tried += 1;
          const code = await main(argv);
          if (code === 2) rejected += 1;
          else accepted += 1;
          return code === 2 && readdirSync(home).length === 0;
        }),
        {
          numRuns: 300,
          seed: FAST_CHECK_SEED,
        },
      );
    } finally {
      out.mockRestore();
      err.mockRestore();
      recordInputs({ surface: 'CLI arguments', tried, rejected, accepted });
    }
    expect(accepted).toBe(0);
  });

  it('the usage error names the offending option', async () => {
    const messages: string[] = [];
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      messages.push(String(chunk));
      return true;
    });
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const samples = fc.sample(hostileCommand, { numRuns: 40, seed: 7 });
      for (const { argv, option } of samples) {
        messages.length = 0;
        expect(await main(argv)).toBe(2);
        expect(messages.join('').toLowerCase()).toContain(option.split(' ')[0]);
      }
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});
