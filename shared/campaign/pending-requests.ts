/**
 * No lost rejuvenations: a request (an aging alarm, an operator's start) that cannot run now is queued,
 * one entry per host however many requests name it, and either runs in a later allowed slot exactly once
 * or is dropped with a reason someone can read (the host was deregistered). Every request ends with one
 * outcome; a request delivered again after its outcome (EventBridge delivers at least once) changes
 * nothing. Pure: each function returns the next queue.
 */

export interface RejuvenationRequest {
  readonly requestId: string;
  readonly hostId: string;
  readonly source: 'alarm' | 'predictive' | 'operator';
  readonly receivedAtMs: number;
}

export interface QueuedHost {
  readonly hostId: string;
  /** Every request this entry stands for, oldest first. */
  readonly requests: readonly RejuvenationRequest[];
  /** Why it has not run yet: the policy rule or limit that held it back. */
  readonly waitingReason: string;
}

export type RequestOutcome =
  | {
      readonly requestId: string;
      readonly hostId: string;
      readonly outcome: 'ran';
      readonly runId: string;
      readonly atMs: number;
    }
  | {
      readonly requestId: string;
      readonly hostId: string;
      readonly outcome: 'dropped';
      readonly reason: string;
      readonly atMs: number;
    };

export interface PendingRequests {
  readonly queued: ReadonlyMap<string, QueuedHost>;
  readonly outcomes: readonly RequestOutcome[];
  readonly settled: ReadonlySet<string>;
}

export const EMPTY_PENDING_REQUESTS: PendingRequests = {
  queued: new Map(),
  outcomes: [],
  settled: new Set(),
};

/** Queues `request`, merged with any entry for its host; a request already queued or settled is a no-op. */
export function enqueueRequest(
  state: PendingRequests,
  request: RejuvenationRequest,
  waitingReason: string,
): PendingRequests {
  if (state.settled.has(request.requestId)) return state;
  const existing = state.queued.get(request.hostId);
  if (existing?.requests.some((r) => r.requestId === request.requestId) === true) return state;
  const queued = new Map(state.queued);
  queued.set(request.hostId, {
    hostId: request.hostId,
    requests: [...(existing?.requests ?? []), request],
    waitingReason: existing?.waitingReason ?? waitingReason,
  });
  return { ...state, queued };
}

/** Settles `answered` of the host's entry with `outcome`; the rest stay queued. */
function settle(
  state: PendingRequests,
  hostId: string,
  answered: (request: RejuvenationRequest) => boolean,
  outcome: (request: RejuvenationRequest) => RequestOutcome,
): PendingRequests {
  const entry = state.queued.get(hostId);
  if (entry === undefined) return state;
  const done = entry.requests.filter(answered);
  if (done.length === 0) return state;
  const rest = entry.requests.filter((r) => !answered(r));
  const queued = new Map(state.queued);
  if (rest.length === 0) queued.delete(hostId);
  else queued.set(hostId, { ...entry, requests: rest });
  const settled = new Set(state.settled);
  for (const request of done) settled.add(request.requestId);
  return { queued, outcomes: [...state.outcomes, ...done.map(outcome)], settled };
}

/**
 * The host's rejuvenation `runId` started at `atMs`: every request queued for it and received by then is
 * settled by that run. A request received later stays queued: a run that had already started when it
 * arrived does not answer it.
 */
export function markRan(
  state: PendingRequests,
  hostId: string,
  runId: string,
  atMs: number,
): PendingRequests {
  return settle(
    state,
    hostId,
    (r) => r.receivedAtMs <= atMs,
    (r) => ({ requestId: r.requestId, hostId, outcome: 'ran', runId, atMs }),
  );
}

/** Gives up on the host's requests, saying why (the host was deregistered, it is quarantined). */
export function dropQueued(
  state: PendingRequests,
  hostId: string,
  reason: string,
  atMs: number,
): PendingRequests {
  if (reason.trim() === '') throw new RangeError('a dropped request needs a reason');
  return settle(
    state,
    hostId,
    () => true,
    (r) => ({ requestId: r.requestId, hostId, outcome: 'dropped', reason, atMs }),
  );
}

/** Records why a queued host is still waiting (the rule or limit that held it back this time). */
export function noteWaiting(state: PendingRequests, hostId: string, waitingReason: string): PendingRequests {
  const entry = state.queued.get(hostId);
  if (entry === undefined || entry.waitingReason === waitingReason) return state;
  const queued = new Map(state.queued);
  queued.set(hostId, { ...entry, waitingReason });
  return { ...state, queued };
}
