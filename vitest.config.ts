import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// vitest's default is one worker less than the cores: on 2 cores, one file at a time. The unit and
// integration files wait on DynamoDB Local, child processes and file I/O as much as they compute, so two
// cores take at least two of them at once (both projects are one group to vitest and share this). The
// e2e and host files stay one at a time, after them.
const PARALLEL_WORKERS = Math.max(2, availableParallelism() - 1);

// Projects with different needs: pure unit tests run anywhere in milliseconds;
// integration tests share one DynamoDB Local process started by a global setup;
// host tests boot real QEMU guests and are kept serial so they do not fight over 2 cores.
export default defineConfig({
  test: {
    // In CI a JSON report as well, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env['CI'] ? ['default', 'json'] : ['default'],
    outputFile: { json: 'reports/vitest.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          maxWorkers: PARALLEL_WORKERS,
          // The CDK files synthesize the stack (one also bundles the handlers) and validate its ASL: a few
          // seconds on an idle machine, past the defaults (10 s, 5 s) when two cores are shared with
          // other test runs.
          hookTimeout: 60_000,
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          maxWorkers: PARALLEL_WORKERS,
          globalSetup: ['test/support/dynamodb-local.global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // The whole coordinator on real QEMU hosts; each file starts its own local environment.
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'host',
          include: ['test/host/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
