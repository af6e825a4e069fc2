/**
 * `rejuv campaign …` validates every argument before it contacts anything: run in-process with a home
 * that holds no local environment, a bad argument is a usage error (2) and a good one gets as far as
 * looking for the environment (5, unreachable), so the difference proves where the validation stopped.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../cli/main.js';
import { EXIT } from '../../../cli/exit-codes.js';

const home = mkdtempSync(join(tmpdir(), 'rejuv-campaign-cli-'));
const savedHome = process.env['REJUV_HOME'];

beforeAll(() => {
  process.env['REJUV_HOME'] = home;
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});

afterAll(() => {
  vi.restoreAllMocks();
  if (savedHome === undefined) delete process.env['REJUV_HOME'];
  else process.env['REJUV_HOME'] = savedHome;
  rmSync(home, { recursive: true, force: true });
});

const start = (...extra: string[]) => [
  '--local',
  'campaign',
  'start',
  'q4',
  '--reason',
  'quarterly',
  ...extra,
];

describe('CLI: rejuv campaign', () => {
  it.each([
    ['a bad campaign id', ['--local', 'campaign', 'start', 'q4;rm -rf', '--reason', 'r', '--pool', 'web']],
    ['a bad pool', start('--pool', '../etc')],
    ['neither hosts nor pools', start()],
    ['a bad host', start('--host', 'h 1')],
    ['a zero pool limit', start('--pool', 'web', '--per-pool', '0')],
    ['a fractional zone limit', start('--pool', 'web', '--per-az', '1.5')],
    ['a tolerance that is neither a count nor a percentage', start('--pool', 'web', '--tolerate', '5x')],
    ['an unknown level', start('--pool', 'web', '--level', 'firmware')],
    ['a status of a bad id', ['--local', 'campaign', 'status', '../x']],
    ['a pause without an id', ['--local', 'campaign', 'pause']],
    ['a cancel with an empty reason', ['--local', 'campaign', 'cancel', 'q4', '--reason', '  ']],
    ['a reject without a reason', ['--local', 'campaign', 'reject', 'q4']],
    ['a reject with an empty reason', ['--local', 'campaign', 'reject', 'q4', '--reason', ' ']],
    ['an approve of a bad id', ['--local', 'campaign', 'approve', 'q4/../x']],
  ])('refuses %s as a usage error (2), contacting nothing', async (_what, argv) => {
    expect(await main(argv)).toBe(EXIT.usage);
    expect(readdirSync(home)).toEqual([]);
  });

  it.each([
    [
      'a start over pools with limits and a percentage tolerance',
      start('--pool', 'web', '--pool', 'db', '--per-pool', '2', '--per-az', '1', '--tolerate', '5%'),
    ],
    ['a start over named hosts', start('--host', 'h1', '--host', 'h2', '--tolerate', '2')],
    ['a status', ['--local', 'campaign', 'status', 'q4']],
    ['a pause with a reason', ['--local', 'campaign', 'pause', 'q4', '--reason', 'incident']],
    ['a resume', ['--local', 'campaign', 'resume', 'q4']],
    ['a cancel', ['--local', 'campaign', 'cancel', 'q4']],
    ['an approve', ['--local', 'campaign', 'approve', 'q4']],
    ['an approve with a reason', ['--local', 'campaign', 'approve', 'q4', '--reason', 'CAB-118']],
    ['a reject', ['--local', 'campaign', 'reject', 'q4', '--reason', 'change freeze']],
  ])('takes %s and goes on to the coordinator (5 here: no local environment)', async (_what, argv) => {
    expect(await main(argv)).toBe(EXIT.unavailable);
  });
});
