/**
 * The pending drainer: runs the queued alarm and prediction requests (queue-refused.ts) whose pool has
 * room, each as the per-host workflow with the request its trigger sent, under a name derived from the
 * entry, so that a queued request runs exactly once however many drainer passes overlap: the name is
 * written on the entry before the start (a conditional put), claimed as the triggers claim theirs (Admit
 * admits nothing unclaimed), started (a second start of the same name and input starts nothing), and the
 * entry settled `ran` with that run. Entries that can never run are dropped with the reason: the host was
 * deregistered, it is quarantined (a person must release it, and whether it then needs a rejuvenation is
 * theirs to say), or the oldest request is older than the maximum age. A host that is busy, offline or
 * held back by the policy gate's `notBefore` keeps waiting.
 */
import { settleDropped, settleRan, queuedRunName, type PendingEntry } from '../campaign/pending-entry.js';
import { hostChainId } from '../domain/audit-record.js';
import type { Clock } from '../domain/clock.js';
import { HostNotFoundError } from '../domain/errors.js';
import type { Host } from '../domain/host.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { ExecutionStarter } from '../ports/execution-starter.js';
import type { HostRepository } from '../ports/host-repository.js';
import type { IdempotencyStore } from '../ports/idempotency-store.js';
import type { PendingStore } from '../ports/pending-store.js';
import type { PoolSemaphore } from '../ports/pool-semaphore.js';
import { requestDigest } from './rejuvenation-request.js';

/** The drainer's own principal on the audit records it writes (the runs keep their trigger's). */
export const PENDING_DRAINER_PRINCIPAL = 'rejuv:pending-drainer';

export interface DrainPendingDeps {
  readonly pending: PendingStore;
  readonly hosts: Pick<HostRepository, 'get'>;
  readonly poolSemaphore: Pick<PoolSemaphore, 'holders'>;
  readonly idempotency: Pick<IdempotencyStore, 'claim'>;
  readonly executions: ExecutionStarter;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly clock: Clock;
  readonly poolLimit: (pool: string) => number;
  /** A request waiting longer than this is dropped: the aging it reported is stale. */
  readonly maxAgeMs: number;
  readonly dedupeTtlSeconds: number;
}

export interface DrainPendingResult {
  readonly started: readonly {
    readonly hostId: string;
    readonly executionName: string;
    readonly started: boolean;
  }[];
  readonly dropped: readonly { readonly hostId: string; readonly reason: string }[];
  readonly waiting: readonly { readonly hostId: string; readonly why: string }[];
}

export async function drainPending(deps: DrainPendingDeps): Promise<DrainPendingResult> {
  const result = { started: [], dropped: [], waiting: [] } as {
    started: DrainPendingResult['started'][number][];
    dropped: DrainPendingResult['dropped'][number][];
    waiting: DrainPendingResult['waiting'][number][];
  };
  const room = new Map<string, number>();
  const listed = (await deps.pending.listWaiting()).sort((a, b) => a.sinceMs - b.sinceMs);
  for (const { hostId } of listed) {
    // The index is eventually consistent: act only on what a consistent read says now.
    const entry = await deps.pending.get(hostId);
    if (entry?.status !== 'waiting') continue;
    const nowMs = deps.clock.nowMs();
    const host = await deps.hosts.get(hostId).catch((error: unknown) => {
      if (error instanceof HostNotFoundError) return undefined;
      throw error;
    });
    const drop = dropReason(entry, host, nowMs, deps.maxAgeMs);
    if (drop !== undefined) {
      if (await settle(deps, entry, settleDropped(entry, drop, nowMs), drop))
        result.dropped.push({ hostId, reason: drop });
      continue;
    }
    let marked = entry;
    if (entry.runName === undefined) {
      const why = await holdBack(deps, entry, host as Host, nowMs, room);
      if (why !== undefined) {
        result.waiting.push({ hostId, why });
        continue;
      }
      marked = { ...entry, runName: queuedRunName(entry), version: entry.version + 1 };
      if (!(await deps.pending.put(marked, entry.version))) continue;
    }
    const started = await startRun(deps, marked);
    if (started !== undefined) result.started.push({ hostId, ...started });
  }
  return result;
}

/** Why the entry can never run, or undefined. */
function dropReason(
  entry: PendingEntry,
  host: Host | undefined,
  nowMs: number,
  maxAgeMs: number,
): string | undefined {
  if (host === undefined) return `host ${entry.hostId} was deregistered while its request waited`;
  if (host.state === 'QUARANTINED')
    return `host ${entry.hostId} is quarantined (${host.quarantineReason ?? 'no reason recorded'}): a person releases it and decides`;
  // Rejuvenated since the newest request was received (an operator's start, a campaign, a later alarm that
  // found room): the aging those requests reported is gone, and running again would only add a pause.
  const rejuvenatedMs = host.lastRejuvenatedAt === undefined ? undefined : Date.parse(host.lastRejuvenatedAt);
  const newestMs = Math.max(entry.sinceMs, ...entry.requests.map((r) => r.receivedAtMs));
  if (entry.runName === undefined && rejuvenatedMs !== undefined && rejuvenatedMs > newestMs)
    return `host ${entry.hostId} was rejuvenated at ${host.lastRejuvenatedAt} after its latest queued request (${new Date(newestMs).toISOString()}): nothing left to run`;
  if (nowMs - entry.sinceMs > maxAgeMs)
    return `waited ${Math.round((nowMs - entry.sinceMs) / 60_000)} min, longer than the ${Math.round(maxAgeMs / 60_000)} min a queued request may wait (${entry.waitingReason})`;
  return undefined;
}

/** Why the entry cannot start on this pass, or undefined when it takes one of its pool's free slots. */
async function holdBack(
  deps: DrainPendingDeps,
  entry: PendingEntry,
  host: Host,
  nowMs: number,
  room: Map<string, number>,
): Promise<string | undefined> {
  if (entry.notBeforeMs !== undefined && entry.notBeforeMs > nowMs)
    return `not before ${new Date(entry.notBeforeMs).toISOString()}`;
  if (host.state !== 'IN_SERVICE') return `host is ${host.state}`;
  if (host.unavailable !== undefined) return `host is ${host.unavailable.reason}`;
  const limit = deps.poolLimit(host.pool);
  const free = room.get(host.pool) ?? limit - (await deps.poolSemaphore.holders(host.pool, limit)).length;
  if (free <= 0) {
    room.set(host.pool, 0);
    return `pool ${host.pool} is full`;
  }
  room.set(host.pool, free - 1);
  return undefined;
}

/** Claims, starts and settles the entry's run; every step is safe to repeat with the same name. */
async function startRun(
  deps: DrainPendingDeps,
  entry: PendingEntry & { runName?: string },
): Promise<{ executionName: string; started: boolean } | undefined> {
  const executionName = entry.runName ?? queuedRunName(entry);
  const digest = requestDigest(entry.request);
  const claim = await deps.idempotency.claim({ executionName, requestDigest: digest }, deps.dedupeTtlSeconds);
  // A live claim of this name for another request: nothing here may start it.
  if (!claim.claimed && claim.existing.requestDigest !== digest) return undefined;
  const started = await deps.executions.start(executionName, entry.request);
  const nowMs = deps.clock.nowMs();
  await settle(deps, entry, settleRan(entry, executionName, nowMs), undefined);
  return { executionName, started: started.started };
}

async function settle(
  deps: DrainPendingDeps,
  entry: PendingEntry,
  next: PendingEntry,
  dropReasonText: string | undefined,
): Promise<boolean> {
  if (!(await deps.pending.put(next, entry.version))) return false;
  const outcome = next.outcome;
  await deps.audit.append(hostChainId(entry.hostId), {
    eventId: `pending:${entry.hostId}:${entry.version}:${outcome?.outcome ?? 'settled'}`,
    at: new Date(deps.clock.nowMs()).toISOString(),
    principal: PENDING_DRAINER_PRINCIPAL,
    trigger: entry.request.trigger,
    step: 'Queue',
    outcome: outcome?.outcome === 'ran' ? 'started' : 'dropped',
    ...(outcome?.outcome === 'ran' ? { executionId: outcome.runId } : {}),
    ...(dropReasonText === undefined ? {} : { reason: dropReasonText.slice(0, 1024) }),
    detail: {
      requests: entry.merged,
      waitingSince: new Date(entry.sinceMs).toISOString(),
      waitingReason: entry.waitingReason.slice(0, 4096),
    },
  });
  return true;
}
