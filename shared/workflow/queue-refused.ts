/**
 * No lost rejuvenations: an alarm's or a prediction's request that Admit refused for a reason that passes
 * (the pool stayed full through every retry, or the policy gate said not now) is queued on the host's
 * pending entry, merged with any other request for it and deduplicated by request id, for the drainer to
 * run later (drain-pending.ts). An operator's own start is not queued: they see its refusal directly; nor
 * is a refused break-glass, nor anything refused for good (unclaimed, host not in service, bad input).
 */
import {
  enqueueRefused,
  QUEUED_TRIGGERS,
  type QueuedRefusalKind,
  type QueuedTrigger,
} from '../campaign/pending-entry.js';
import { hostChainId } from '../domain/audit-record.js';
import type { Clock } from '../domain/clock.js';
import { PendingEntryContentionError } from '../domain/errors.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { PendingStore } from '../ports/pending-store.js';
import type { HostRepository } from '../ports/host-repository.js';
import type { RejuvenationRequest } from './rejuvenation-request.js';

/** How Admit's refusal is classed: the kinds worth asking again, and everything else. */
export type RefusalKind = QueuedRefusalKind | 'other';

export interface ClassifiedRefusal {
  readonly kind: RefusalKind;
  readonly reason: string;
  /** The policy rule that refused (kind `policy`). */
  readonly rule?: string | undefined;
  /** The policy gate's next allowed instant, when it knows one. */
  readonly untilMs?: number | undefined;
}

/** The error names Admit refuses with that a later attempt may get past. */
const KIND_OF_ERROR: Readonly<Record<string, QueuedRefusalKind>> = {
  PoolFullError: 'pool-full',
  PolicyRefusedError: 'policy',
};

export function refusalKindOf(errorName: string): RefusalKind {
  return KIND_OF_ERROR[errorName] ?? 'other';
}

export type QueueOutcome =
  | { readonly queued: false; readonly why: string }
  | { readonly queued: true; readonly merged: number; readonly duplicate: boolean };

export interface QueueDeps {
  readonly store: {
    readonly pending: PendingStore;
    readonly hosts: Pick<HostRepository, 'get'>;
    readonly audit: Pick<AuditLog, 'append'>;
  };
  readonly clock: Clock;
}

const MAX_WRITE_ATTEMPTS = 5;

function isQueuedTrigger(trigger: string): trigger is QueuedTrigger {
  return (QUEUED_TRIGGERS as readonly string[]).includes(trigger);
}

export async function queueRefusedRequest(
  deps: QueueDeps,
  executionId: string,
  request: RejuvenationRequest,
  refusal: ClassifiedRefusal,
): Promise<QueueOutcome> {
  const trigger = request.trigger;
  if (!isQueuedTrigger(trigger)) return { queued: false, why: `a ${trigger} request is not queued` };
  if (request.dryRun) return { queued: false, why: 'a dry run is not queued' };
  if (refusal.kind === 'other') return { queued: false, why: 'refused for good' };
  if (refusal.kind === 'policy' && refusal.rule === 'break-glass')
    return { queued: false, why: 'a refused break-glass is not queued' };
  const host = await deps.store.hosts.get(request.hostId);
  const nowMs = deps.clock.nowMs();
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const current = await deps.store.pending.get(request.hostId);
    const next = enqueueRefused(current, {
      requestId: executionId,
      pool: host.pool,
      request: { ...request, trigger },
      receivedAtMs: nowMs,
      kind: refusal.kind,
      waitingReason: refusal.reason,
      notBeforeMs: refusal.untilMs,
    });
    if (next === undefined) return { queued: true, merged: current?.merged ?? 0, duplicate: true };
    if (!(await deps.store.pending.put(next, current?.version))) continue;
    await deps.store.audit.append(hostChainId(request.hostId), {
      eventId: `${executionId}:Refuse:queued`,
      at: new Date(nowMs).toISOString(),
      principal: request.principal,
      trigger,
      step: 'Queue',
      outcome: 'queued',
      executionId,
      reason: refusal.reason.slice(0, 1024),
      detail: {
        kind: refusal.kind,
        merged: next.merged,
        waitingSince: new Date(next.sinceMs).toISOString(),
        ...(refusal.rule === undefined ? {} : { rule: refusal.rule }),
        ...(refusal.untilMs === undefined ? {} : { notBefore: new Date(refusal.untilMs).toISOString() }),
      },
    });
    return { queued: true, merged: next.merged, duplicate: false };
  }
  throw new PendingEntryContentionError(request.hostId, MAX_WRITE_ATTEMPTS);
}
