/** `rejuv hosts [--pool P]`: every host, its lifecycle state and who owns it. */
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import type { Target } from '../target.js';

export async function hostsCommand(
  target: Target,
  options: { pool?: string | undefined },
  out: Output,
): Promise<ExitCode> {
  const hosts =
    options.pool === undefined
      ? await target.store.hosts.list()
      : await target.store.hosts.listByPool(options.pool);
  out.result({ hosts }, () =>
    hosts.length === 0
      ? `no hosts${options.pool === undefined ? '' : ` in pool ${options.pool}`}`
      : table(
          ['HOST', 'POOL', 'STATE', 'VERSION', 'CORDONED', 'EXECUTION', 'UPDATED', 'QUARANTINE REASON'],
          hosts.map((h) => [
            h.hostId,
            h.pool,
            h.state,
            String(h.stateVersion),
            h.cordoned ? 'yes' : 'no',
            h.executionId,
            h.updatedAt,
            h.quarantineReason,
          ]),
        ),
  );
  return EXIT.ok;
}
