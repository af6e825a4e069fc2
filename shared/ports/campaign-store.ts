import type { Campaign, CampaignHostState, CampaignStatus } from '../campaign/campaign.js';

/** What the campaign store keeps beside the campaign itself: who started it, why, and the run it drives. */
export interface CampaignRecord {
  readonly campaign: Campaign;
  /** The operator who started it, as AWS authenticated them: every host's request names them. */
  readonly startedBy: string;
  readonly reason: string;
  readonly level: 'vmm-process' | 'kernel';
  readonly createdAt: string;
  /** The execution name each host was started under, once started. */
  readonly executionNames: Readonly<Record<string, string>>;
  /** How each host's execution ended, when it did not succeed (the child's error). */
  readonly outcomes: Readonly<Record<string, string>>;
}

/**
 * Campaigns, one item per host beside the campaign's own, so a fleet never meets the item size limit and
 * two hosts' outcomes are recorded without contending. Every write is conditional on the state it moves
 * from, so a retried step changes nothing twice.
 */
export interface CampaignStore {
  /** Refuses (CampaignExistsError) an id already used. */
  create(record: CampaignRecord): Promise<void>;
  /** Throws CampaignNotFoundError. */
  get(campaignId: string): Promise<CampaignRecord>;
  /** Moves the status from `from`; false (nothing written) when it is no longer `from`. */
  setStatus(
    campaignId: string,
    from: CampaignStatus,
    to: CampaignStatus,
    reason: string | undefined,
  ): Promise<boolean>;
  /** Moves one host from `from`; false (nothing written) when it is no longer `from`. */
  setHostState(
    campaignId: string,
    hostId: string,
    from: CampaignHostState,
    to: CampaignHostState,
    detail: { readonly executionName?: string; readonly outcome?: string; readonly endedAtMs?: number },
  ): Promise<boolean>;
}
