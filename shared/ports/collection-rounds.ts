/**
 * Where the aging collector keeps which round it started last, and whether that round was published: the
 * marks that make a retried or duplicated scheduled run publish nothing twice and start no second round.
 */
export interface CollectionRound {
  /** The scheduled time the round was started for (ISO 8601): rounds are ordered by it. */
  readonly roundKey: string;
  /** Set once the fleet command is sent. */
  readonly commandId?: string | undefined;
  readonly startedAt: string;
  /** Set, by one conditional write, by the run that publishes the round. */
  readonly publishedAt?: string | undefined;
}

export interface CollectionRounds {
  /** The round started last, if any. */
  latest(): Promise<CollectionRound | undefined>;
  /**
   * Claims the publication of `roundKey`, which must still be the latest round and not yet published.
   * @returns false when another run claimed it first (or a later round replaced it): publish nothing
   */
  claimPublication(roundKey: string, at: Date): Promise<boolean>;
  /**
   * Makes `roundKey` the latest round, replacing `previousRoundKey` (undefined when there is none).
   * @returns false when the latest round is no longer `previousRoundKey`: another run started one
   */
  begin(roundKey: string, previousRoundKey: string | undefined, at: Date): Promise<boolean>;
  /** Records the fleet command of the latest round `roundKey` (a no-op if another round replaced it). */
  recordCommand(roundKey: string, commandId: string): Promise<void>;
}
