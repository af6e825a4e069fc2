import type { ChainVerdict, StoredRecord } from '../domain/audit-chain.js';
import type { AuditEventInput, AuditRecord } from '../domain/audit-record.js';

export interface AuditExportFilter {
  /** Only this chain (e.g. `host#h-17`); all chains when absent. */
  readonly chainId?: string;
  /** Only records at or after this instant (ISO 8601). */
  readonly since?: string;
}

/** The append-only, hash-chained audit trail. */
export interface AuditLog {
  /**
   * Appends one event to a chain with the next sequence number. An append retried with an `eventId`
   * the chain already has returns the record stored the first time and writes nothing.
   */
  append(chainId: string, event: AuditEventInput): Promise<AuditRecord>;
  /** The chain's last record; undefined for a chain with none. */
  head(chainId: string): Promise<AuditRecord | undefined>;
  /** The chain's records in sequence order. */
  read(chainId: string): AsyncIterable<AuditRecord>;
  /**
   * The chain's records from `fromSeq` (default 1) in sequence order, as stored: a record that no longer
   * parses is passed on as such, for verification to report rather than to throw on.
   */
  readStored(chainId: string, fromSeq?: number): AsyncIterable<StoredRecord>;
  /** Recomputes the chain and names its first broken or missing link. */
  verify(chainId: string): Promise<ChainVerdict>;
  /** Every chain the log holds. */
  chainIds(): Promise<string[]>;
  /** Records as JSON Lines, chain by chain, each chain in sequence order. */
  exportJsonLines(filter?: AuditExportFilter): AsyncIterable<string>;
}
