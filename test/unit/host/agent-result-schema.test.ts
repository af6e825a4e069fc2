/**
 * Runs the agent's Python test of its result lines against host/results/host-result.schema.json
 * (host/agent/tests/test_host_result_schema.py), so the contract's two sides are checked in one suite.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('Python: host/agent/tests/test_host_result_schema.py', () => {
  it('finds every line the agent prints, and every shared sample, as the JSON Schema says', () => {
    const run = () =>
      execFileSync('python3', ['-m', 'unittest', 'host/agent/tests/test_host_result_schema.py'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      });
    expect(run).not.toThrow();
  });
});
