import type { SignedDigest } from '../domain/audit-digest.js';

/** Where signed digests are kept, write-once (S3 with Object Lock). */
export interface DigestStore {
  /** Every digest, in sequence order. */
  list(): AsyncIterable<SignedDigest>;
  /** The digest with the highest sequence number, if any. */
  latest(): Promise<SignedDigest | undefined>;
  /**
   * Stores a new digest under its sequence number's key, locked until `retainUntil`; throws
   * DigestSequenceTakenError when another sealer stored that sequence number first.
   */
  putNew(digest: SignedDigest, retainUntil: Date): Promise<void>;
}
