/**
 * The error vocabulary of rejuv. Error `name`s are a contract: the state machine's Retry and Catch
 * clauses match on them, so handlers must let these errors through unchanged rather than re-wrap them.
 */
export abstract class RejuvError extends Error {
  /**
   * Each subclass states its name as a string literal. The functions are minified, which renames
   * classes: `new.target.name` or `SomeError.name` would read a letter or two in AWS, and no Retry or
   * Catch would match. Compare caught names with these literals too, never with a class's `.name`.
   */
  abstract override readonly name: string;
  /** True when the same call may succeed if simply tried again later. */
  abstract readonly retryable: boolean;

  // Not useless: it makes the message required, where Error's own constructor leaves it optional.
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Input at a boundary (event, CLI, document parameter, stored item) does not match its schema. */
export class ValidationError extends RejuvError {
  override readonly name = 'ValidationError';
  readonly retryable = false;
  constructor(
    readonly subject: string,
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid ${subject}: ${issues.join('; ')}`, options);
  }
}

/** The lifecycle table has no edge from `from` to `to`. */
export class IllegalTransitionError extends RejuvError {
  override readonly name = 'IllegalTransitionError';
  readonly retryable = false;
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`illegal host transition ${from} -> ${to}`);
  }
}

export class HostNotFoundError extends RejuvError {
  override readonly name = 'HostNotFoundError';
  readonly retryable = false;
  constructor(readonly hostId: string) {
    super(`host ${hostId} is not registered`);
  }
}

export class HostAlreadyRegisteredError extends RejuvError {
  override readonly name = 'HostAlreadyRegisteredError';
  readonly retryable = false;
  constructor(readonly hostId: string) {
    super(`host ${hostId} is already registered`);
  }
}

/** What a conditional host write expected, next to what the store actually holds. */
export interface HostStateSnapshot {
  readonly state: string;
  readonly stateVersion: number;
  readonly executionId?: string | undefined;
}

/**
 * A conditional host write found the host elsewhere than the caller believed: another execution owns
 * it, or a duplicate or stale step already moved it. Never retried: the caller's view is out of date.
 */
export class StaleHostStateError extends RejuvError {
  override readonly name = 'StaleHostStateError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly expected: HostStateSnapshot,
    readonly actual: HostStateSnapshot,
  ) {
    super(`host ${hostId} is ${describe(actual)}, expected ${describe(expected)}; refusing to move it`);
  }
}

function describe(s: HostStateSnapshot): string {
  return `${s.state}@v${s.stateVersion}${s.executionId ? ` owned by ${s.executionId}` : ' unowned'}`;
}

export interface LeaseHolder {
  readonly owner: string;
  readonly fencingToken: number;
  readonly expiresAtMs: number;
}

/** Someone else holds a live lease on the resource. Retryable: leases expire or are released. */
export class LockHeldError extends RejuvError {
  override readonly name = 'LockHeldError';
  readonly retryable = true;
  constructor(
    readonly resource: string,
    readonly holder: LeaseHolder,
  ) {
    super(
      `${resource} is locked by ${holder.owner} (token ${holder.fencingToken}) until ${new Date(holder.expiresAtMs).toISOString()}`,
    );
  }
}

/**
 * The caller's lease is no longer the live one (it expired and was taken over, or was released):
 * fencing refuses every write made under it.
 */
export class LeaseLostError extends RejuvError {
  override readonly name = 'LeaseLostError';
  readonly retryable = false;
  constructor(
    readonly resource: string,
    readonly owner: string,
    readonly fencingToken: number,
  ) {
    super(`lease on ${resource} held by ${owner} with token ${fencingToken} is no longer valid`);
  }
}

/** Every slot of the pool's maintenance semaphore is held. Retryable: slots free up. */
export class PoolFullError extends RejuvError {
  override readonly name = 'PoolFullError';
  readonly retryable = true;
  constructor(
    readonly pool: string,
    readonly limit: number,
    readonly holders: readonly string[],
  ) {
    super(`pool ${pool} already has ${limit} host(s) in maintenance: ${holders.join(', ')}`);
  }
}

/** A host's pending entry changed under every one of several conditional writes in a row. */
export class PendingEntryContentionError extends RejuvError {
  override readonly name = 'PendingEntryContentionError';
  readonly retryable = true;
  constructor(
    readonly hostId: string,
    readonly attempts: number,
  ) {
    super(`host ${hostId}: its pending entry changed under ${attempts} conditional writes in a row`);
  }
}

/** An audit append lost the race for the next sequence number too many times in a row. */
export class AuditContentionError extends RejuvError {
  override readonly name = 'AuditContentionError';
  readonly retryable = true;
  constructor(
    readonly chainId: string,
    readonly attempts: number,
  ) {
    super(`could not append to audit chain ${chainId} after ${attempts} attempts`);
  }
}

/** Another sealer stored the digest with this sequence number first; the digest chain does not fork. */
export class DigestSequenceTakenError extends RejuvError {
  override readonly name = 'DigestSequenceTakenError';
  readonly retryable = true;
  constructor(readonly key: string) {
    super(`audit digest ${key} already exists`);
  }
}

/** An audit bundle's file cannot be read as what it should hold: the export was damaged or tampered with. */
export class AuditBundleUnreadableError extends RejuvError {
  override readonly name = 'AuditBundleUnreadableError';
  readonly retryable = false;
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`audit bundle ${file}: ${detail}`);
  }
}

/** A stored item no longer matches its schema: edited behind the system's back, or corrupted. */
export class CorruptItemError extends RejuvError {
  override readonly name = 'CorruptItemError';
  readonly retryable = false;
  constructor(
    readonly table: string,
    readonly key: string,
    readonly issues: readonly string[],
  ) {
    super(`stored item ${key} in ${table} is corrupt: ${issues.join('; ')}`);
  }
}

/** The host's preflight said no (per-VM reasons in the message); nothing on the host was touched. */
export class PreflightRefusedError extends RejuvError {
  override readonly name = 'PreflightRefusedError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly reasons: readonly string[],
  ) {
    super(`preflight refused host ${hostId}: ${reasons.join('; ')}`);
  }
}

/** A host document ended in failure or printed no readable result. */
export class HostCommandFailedError extends RejuvError {
  override readonly name = 'HostCommandFailedError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly document: string,
    readonly commandId: string,
    readonly detail: string,
  ) {
    super(`${document} failed on host ${hostId} (command ${commandId}): ${detail}`);
  }
}

/** A host document did not finish before its deadline; the command was cancelled. */
export class HostCommandTimeoutError extends RejuvError {
  override readonly name = 'HostCommandTimeoutError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly document: string,
    readonly commandId: string,
    readonly deadline: string,
  ) {
    super(`${document} on host ${hostId} (command ${commandId}) did not finish by ${deadline}; cancelled`);
  }
}

/** The host's agent did not come back online before the deadline. */
export class HostNotBackError extends RejuvError {
  override readonly name = 'HostNotBackError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly deadline: string,
    readonly lastStatus: string,
    /** The guests on it, when known: a person must find them, and the host cannot be asked. */
    readonly guests?: readonly string[],
  ) {
    super(
      `host ${hostId} did not report back online by ${deadline} (last status ${lastStatus})` +
        (guests === undefined || guests.length === 0
          ? ''
          : `; its guests, not known to be running: ${guests.join(', ')}`),
    );
  }
}

/** Rejuvenation starts only from IN_SERVICE; a host elsewhere (quarantined, mid-maintenance) is refused. */
export class HostNotInServiceError extends RejuvError {
  override readonly name = 'HostNotInServiceError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly state: string,
  ) {
    super(`host ${hostId} is ${state}, not IN_SERVICE; refusing to start`);
  }
}

/** An operator action on a host that an execution owns right now; the host is left to that execution. */
export class HostOwnedByExecutionError extends RejuvError {
  override readonly name = 'HostOwnedByExecutionError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly state: string,
    readonly executionId: string,
  ) {
    super(`host ${hostId} is ${state}, owned by execution ${executionId}; refusing until it ends`);
  }
}

/** Only a QUARANTINED host can be released; a host elsewhere is refused and left as it is. */
export class HostNotQuarantinedError extends RejuvError {
  override readonly name = 'HostNotQuarantinedError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly state: string,
  ) {
    super(`host ${hostId} is ${state}, not QUARANTINED; nothing to release`);
  }
}

/** SSM reports the host's instance offline or no longer managed: its checks cannot run. */
export class HostUnavailableError extends RejuvError {
  override readonly name = 'HostUnavailableError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly reason: string,
    readonly since: string,
  ) {
    super(
      `host ${hostId} is marked unavailable (${reason} since ${since}): the host sync clears the mark once SSM reports its instance online and managed (a release may be forced)`,
    );
  }
}

/** A check run before releasing a quarantined host did not pass; the host stays QUARANTINED. */
export class ReleaseCheckFailedError extends RejuvError {
  override readonly name = 'ReleaseCheckFailedError';
  readonly retryable = false;
  constructor(
    readonly hostId: string,
    readonly check: string,
    readonly detail: string,
  ) {
    super(`host ${hostId} stays QUARANTINED: ${check} did not pass: ${detail}`);
  }
}

/** The operator API's caller holds no grant for the pool (or pools) the action touches. */
export class NotAuthorizedError extends RejuvError {
  override readonly name = 'NotAuthorizedError';
  readonly retryable = false;
  constructor(
    readonly principal: string,
    readonly action: string,
    reason: string,
  ) {
    super(reason);
  }
}
/** Why Admit found no trigger behind an execution. */
export type UnclaimedFinding = 'no-claim' | 'request-differs';

/**
 * No trigger claimed this execution with this request: it was started around the triggers (directly on
 * Step Functions, with whatever principal its input names), or its input is not the one the trigger
 * claimed. Refused before anything is taken; its principal is not to be believed.
 */
export class UnclaimedExecutionError extends RejuvError {
  override readonly name = 'UnclaimedExecutionError';
  readonly retryable = false;
  constructor(
    readonly executionId: string,
    readonly finding: UnclaimedFinding,
  ) {
    super(
      finding === 'no-claim'
        ? `execution ${executionId} was not started by a trigger: no trigger claim names it; refusing to start`
        : `execution ${executionId} does not carry the request its trigger claimed; refusing to start`,
    );
  }
}
