/**
 * A trigger's claim on the execution it starts: proof, for Admit, that a trigger (not whoever may call
 * StartExecution) started it, and with which request.
 */
export interface ExecutionClaim {
  /** The Step Functions execution name, derived by the trigger from what it deduplicates. */
  readonly executionName: string;
  /** requestDigest() of the request the trigger starts the execution with. */
  readonly requestDigest: string;
}

export interface StoredExecutionClaim extends ExecutionClaim {
  readonly claimedAt: string;
}

export type ClaimResult =
  { readonly claimed: true } | { readonly claimed: false; readonly existing: StoredExecutionClaim };

/**
 * Remembers, for a while, which executions the triggers started: duplicate deliveries of a trigger derive
 * the same execution name and start nothing, and Admit admits only an execution claimed here.
 */
export interface IdempotencyStore {
  /** Claims the execution's name unless a live claim holds it. */
  claim(claim: ExecutionClaim, ttlSeconds: number): Promise<ClaimResult>;
  /** The claim that names this execution, if the table still holds one. */
  claimOf(executionName: string): Promise<StoredExecutionClaim | undefined>;
}
