/** How a bench that starts lab hosts runs: Ctrl-C and failures end every QEMU it started. */
import { teardownOpenKernelHosts } from '../host/lab/kernel-host.js';
import { teardownOpenLabHosts } from '../host/lab/lab-host.js';

async function teardownEverything(): Promise<void> {
  await Promise.all([teardownOpenLabHosts(), teardownOpenKernelHosts()]);
}

export function runLabBench(main: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void teardownEverything().finally(() => process.exit(130));
    });
  }
  main().catch(async (error: unknown) => {
    await teardownEverything();
    console.error(error);
    process.exitCode = 1;
  });
}
