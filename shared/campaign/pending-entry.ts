/**
 * One host's pending entry as the store keeps it: the queue of pending-requests.ts narrowed to one host,
 * plus what a drainer needs to run it (the request to start with, the run's name while it starts) and
 * what an operator reads (why it waits, since when, how many requests it stands for, how it ended). Every
 * change goes through the pure queue functions, so the store only ever writes what they decided.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ExecutionIdSchema, HostIdSchema, PoolIdSchema } from '../domain/identifiers.js';
import { RejuvenationRequestSchema, type RejuvenationRequest } from '../workflow/rejuvenation-request.js';
import {
  dropQueued,
  EMPTY_PENDING_REQUESTS,
  enqueueRequest,
  markRan,
  type PendingRequests,
  type QueuedHost,
  type RequestOutcome,
} from './pending-requests.js';

/** Only unattended requests are queued: an operator sees a refusal of their own start directly. */
export const QUEUED_TRIGGERS = ['alarm', 'predictive'] as const;
export type QueuedTrigger = (typeof QUEUED_TRIGGERS)[number];

/** Why Admit said no in a way worth asking again: the pool stayed full, or the policy gate said wait/deny. */
export const QUEUED_REFUSAL_KINDS = ['pool-full', 'policy'] as const;
export type QueuedRefusalKind = (typeof QUEUED_REFUSAL_KINDS)[number];

/** An entry holds at most this many requests by id; later ones are counted (a host alarming for days). */
export const MAX_HELD_REQUESTS = 20;
/** Settled request ids kept so that a request delivered again after its outcome is not queued again. */
const MAX_SETTLED_IDS = 50;

const PendingRequestRecordSchema = z.strictObject({
  requestId: ExecutionIdSchema,
  trigger: z.enum(QUEUED_TRIGGERS),
  receivedAtMs: z.number().int().nonnegative(),
});

const OutcomeSchema = z.discriminatedUnion('outcome', [
  z.strictObject({
    outcome: z.literal('ran'),
    runId: ExecutionIdSchema,
    atMs: z.number().int().nonnegative(),
    requests: z.number().int().positive(),
  }),
  z.strictObject({
    outcome: z.literal('dropped'),
    reason: z.string().min(1).max(1024),
    atMs: z.number().int().nonnegative(),
    requests: z.number().int().positive(),
  }),
]);

export const PendingEntrySchema = z.strictObject({
  hostId: HostIdSchema,
  pool: PoolIdSchema,
  status: z.enum(['waiting', 'ran', 'dropped']),
  /** What a queued run starts with: the oldest waiting request, as its trigger sent it. */
  request: RejuvenationRequestSchema,
  /** The waiting requests, oldest first (at most MAX_HELD_REQUESTS). */
  requests: z.array(PendingRequestRecordSchema).max(MAX_HELD_REQUESTS),
  /** How many requests the entry stands for, those beyond the held ones included. */
  merged: z.number().int().nonnegative(),
  waitingReason: z.string().min(1).max(1024),
  refusalKind: z.enum(QUEUED_REFUSAL_KINDS),
  /** When the oldest waiting request was received. */
  sinceMs: z.number().int().nonnegative(),
  /** The policy gate's next allowed instant, when it named one: no start is tried before. */
  notBeforeMs: z.number().int().nonnegative().optional(),
  /** Set before the drainer starts the run, so a drainer that died mid-start finishes the same run. */
  runName: ExecutionIdSchema.optional(),
  /** How the last waiting requests ended. */
  outcome: OutcomeSchema.optional(),
  settledRequestIds: z.array(ExecutionIdSchema).max(MAX_SETTLED_IDS),
  /** Bumped by every write; each write is conditional on the version it read. */
  version: z.number().int().nonnegative(),
});

export type PendingEntry = z.output<typeof PendingEntrySchema>;

export interface RefusedRequest {
  /** The refused execution's name: unique per alarm change or prediction window. */
  readonly requestId: string;
  readonly pool: string;
  readonly request: RejuvenationRequest & { readonly trigger: QueuedTrigger };
  readonly receivedAtMs: number;
  readonly kind: QueuedRefusalKind;
  readonly waitingReason: string;
  readonly notBeforeMs?: number | undefined;
}

/** The queue of pending-requests.ts holding this entry only. */
function asQueue(entry: PendingEntry): PendingRequests {
  const queued = new Map<string, QueuedHost>();
  if (entry.status === 'waiting')
    queued.set(entry.hostId, {
      hostId: entry.hostId,
      requests: entry.requests.map((r) => ({
        requestId: r.requestId,
        hostId: entry.hostId,
        source: r.trigger,
        receivedAtMs: r.receivedAtMs,
      })),
      waitingReason: entry.waitingReason,
    });
  return { ...EMPTY_PENDING_REQUESTS, queued, settled: new Set(entry.settledRequestIds) };
}

/**
 * The entry with `refused` queued: a new waiting entry, or merged into the one waiting (its request to
 * run and since stay the oldest's; the latest refusal says why it waits now). Undefined when nothing
 * changes: the request is already queued or already settled (a Refuse retried, a redelivery).
 */
export function enqueueRefused(
  entry: PendingEntry | undefined,
  refused: RefusedRequest,
): PendingEntry | undefined {
  const base = entry;
  const before = base === undefined ? EMPTY_PENDING_REQUESTS : asQueue(base);
  const after = enqueueRequest(
    before,
    {
      requestId: refused.requestId,
      hostId: refused.request.hostId,
      source: refused.request.trigger,
      receivedAtMs: refused.receivedAtMs,
    },
    refused.waitingReason,
  );
  if (after === before) return undefined;
  const waiting = base?.status === 'waiting' ? base : undefined;
  const record = {
    requestId: refused.requestId,
    trigger: refused.request.trigger,
    receivedAtMs: refused.receivedAtMs,
  };
  const held = waiting?.requests ?? [];
  return {
    hostId: refused.request.hostId,
    pool: refused.pool,
    status: 'waiting',
    request: waiting?.request ?? refused.request,
    requests: held.length < MAX_HELD_REQUESTS ? [...held, record] : held,
    merged: (waiting?.merged ?? 0) + 1,
    waitingReason: refused.waitingReason.slice(0, 1024),
    refusalKind: refused.kind,
    sinceMs: waiting?.sinceMs ?? refused.receivedAtMs,
    ...(refused.notBeforeMs === undefined ? {} : { notBeforeMs: refused.notBeforeMs }),
    ...(waiting?.runName === undefined ? {} : { runName: waiting.runName }),
    ...(base?.outcome === undefined ? {} : { outcome: base.outcome }),
    settledRequestIds: base?.settledRequestIds ?? [],
    version: (base?.version ?? 0) + 1,
  };
}

/** The run that answers the entry: one name per entry (its oldest request), on every drainer pass. */
export function queuedRunName(entry: PendingEntry): string {
  const first = entry.requests[0]?.requestId ?? `${entry.hostId}@${entry.sinceMs}`;
  const digest = createHash('sha256').update(`${entry.hostId}\n${first}`).digest('hex').slice(0, 16);
  return `queued-${entry.hostId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56)}-${digest}`;
}

function settledEntry(
  entry: PendingEntry,
  outcomes: readonly RequestOutcome[],
  outcome: PendingEntry['outcome'],
): PendingEntry {
  const { runName: _run, notBeforeMs: _notBefore, ...rest } = entry;
  return {
    ...rest,
    status: outcome?.outcome ?? entry.status,
    requests: [],
    ...(outcome === undefined ? {} : { outcome }),
    settledRequestIds: [...entry.settledRequestIds, ...outcomes.map((o) => o.requestId)].slice(
      -MAX_SETTLED_IDS,
    ),
    version: entry.version + 1,
  };
}

/** Every waiting request answered by the run `runId`, started at `atMs`. */
export function settleRan(entry: PendingEntry, runId: string, atMs: number): PendingEntry {
  const after = markRan(asQueue(entry), entry.hostId, runId, atMs);
  return settledEntry(entry, after.outcomes, { outcome: 'ran', runId, atMs, requests: entry.merged });
}

/** Every waiting request given up on, with the reason an operator reads. */
export function settleDropped(entry: PendingEntry, reason: string, atMs: number): PendingEntry {
  const after = dropQueued(asQueue(entry), entry.hostId, reason, atMs);
  return settledEntry(entry, after.outcomes, {
    outcome: 'dropped',
    reason: reason.slice(0, 1024),
    atMs,
    requests: entry.merged,
  });
}
