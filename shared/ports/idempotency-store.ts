export type ClaimResult =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly existingValue: string; readonly claimedAt: string };

/** Remembers that a trigger was acted on, for a while, so duplicate deliveries start nothing. */
export interface IdempotencyStore {
  /** Claims `key` for `value` (e.g. the execution it started) unless a live claim exists. */
  claim(key: string, value: string, ttlSeconds: number): Promise<ClaimResult>;
}
