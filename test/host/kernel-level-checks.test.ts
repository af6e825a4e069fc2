import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../host/lab/repo-paths.js';

const run = promisify(execFile);

// The checks are pure functions of what the agent reads from /proc, /sys and the host's config, so
// they run on fixtures: no kernel host is booted. The cases and their exact reasons are in the file.
describe('Host agent: Preflight checks of the kernel level', () => {
  it('passes a host that has everything and names each failing check otherwise', async () => {
    const { stderr } = await run('python3', [
      '-B',
      join(import.meta.dirname, 'fixtures', 'kernel_level_checks.py'),
      join(REPO_ROOT, 'host', 'agent'),
    ]);
    expect(stderr).toMatch(/^Ran \d+ tests/m);
    expect(stderr.trim().split('\n').at(-1)).toBe('OK');
  });
});
