import { defineConfig } from 'vitest/config';

// `npm run test:faults`: the fault matrix, the soak and the hostile inputs. Kept out of `npm test`
// because it is long; .ci/run runs it as its own step. Files run one at a time: each drives real QEMU
// hosts and a whole local environment, and faults that stop servers must not hit a neighbour.
export default defineConfig({
  test: {
    name: 'faults',
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/support/faults.global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
