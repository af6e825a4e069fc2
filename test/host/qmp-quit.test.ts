import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../host/lab/repo-paths.js';

const run = promisify(execFile);

describe('Host agent: QMP quit', () => {
  it('treats a QEMU that closes the socket before replying to quit as having quit', async () => {
    const { stdout } = await run('python3', [
      '-B',
      join(import.meta.dirname, 'fixtures', 'qmp_quit_without_reply.py'),
      join(REPO_ROOT, 'host', 'agent'),
    ]);
    expect(stdout.trim().split('\n')).toEqual([
      'quit closed without reply: accepted',
      'quit replied: accepted',
      'other command closed without reply: QmpGone',
    ]);
  });
});
