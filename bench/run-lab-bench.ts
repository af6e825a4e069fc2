/** How a bench that starts lab hosts runs: Ctrl-C and failures end every QEMU it started. */
import { teardownOpenLabHosts } from '../host/lab/lab-host.js';

export function runLabBench(main: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void teardownOpenLabHosts().finally(() => process.exit(130));
    });
  }
  main().catch(async (error: unknown) => {
    await teardownOpenLabHosts();
    console.error(error);
    process.exitCode = 1;
  });
}
