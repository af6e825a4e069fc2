/**
 * `rejuv hosts [--pool P]`: every host, its lifecycle state and who owns it; then the alarm and
 * prediction requests waiting for a slot (why, since when, how many merged) and those dropped lately.
 */
import type { PendingEntry } from '../../shared/campaign/pending-entry.js';
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
  const pending = await target.store.pending.listWaiting(options.pool);
  const dropped = (await target.store.pending.listDropped()).filter(
    (e) => options.pool === undefined || e.pool === options.pool,
  );
  out.result({ hosts, pending: pending.map(pendingView), dropped: dropped.map(pendingView) }, () =>
    [
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
      ...(pending.length === 0
        ? []
        : [
            '',
            'pending requests',
            table(
              ['HOST', 'POOL', 'TRIGGER', 'WAITING SINCE', 'REQUESTS', 'WAITING REASON'],
              pending.map((e) => [
                e.hostId,
                e.pool,
                e.request.trigger,
                new Date(e.sinceMs).toISOString(),
                String(e.merged),
                e.waitingReason,
              ]),
            ),
          ]),
      ...(dropped.length === 0
        ? []
        : [
            '',
            'dropped requests',
            table(
              ['HOST', 'POOL', 'DROPPED AT', 'REQUESTS', 'REASON'],
              dropped.map((e) => [
                e.hostId,
                e.pool,
                e.outcome === undefined ? undefined : new Date(e.outcome.atMs).toISOString(),
                String(e.outcome?.requests ?? e.merged),
                e.outcome?.outcome === 'dropped' ? e.outcome.reason : undefined,
              ]),
            ),
          ]),
    ].join('\n'),
  );
  return EXIT.ok;
}

/** A pending entry as `--json` carries it: times as ISO 8601, the requests it stands for by id. */
export function pendingView(entry: PendingEntry) {
  return {
    hostId: entry.hostId,
    pool: entry.pool,
    status: entry.status,
    trigger: entry.request.trigger,
    waitingReason: entry.waitingReason,
    refusalKind: entry.refusalKind,
    waitingSince: new Date(entry.sinceMs).toISOString(),
    requests: entry.merged,
    requestIds: entry.requests.map((r) => r.requestId),
    ...(entry.notBeforeMs === undefined ? {} : { notBefore: new Date(entry.notBeforeMs).toISOString() }),
    ...(entry.runName === undefined ? {} : { starting: entry.runName }),
    ...(entry.outcome === undefined ? {} : { outcome: outcomeView(entry.outcome) }),
  };
}

function outcomeView({ atMs, ...outcome }: NonNullable<PendingEntry['outcome']>) {
  return { ...outcome, at: new Date(atMs).toISOString() };
}
