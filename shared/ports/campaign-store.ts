import type { Campaign, CampaignApproval, CampaignHostState, CampaignStatus } from '../campaign/campaign.js';

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
  /**
   * The task token the campaign's approval step waits on, once that step stored it: whoever decides the
   * approval hands it back to Step Functions. Never shown to anyone.
   */
  readonly approvalToken?: string | undefined;
}

/** An approval decided: what to write, and the status the campaign moves to with it (a rejection ends it). */
export interface ApprovalDecision {
  readonly approval: CampaignApproval;
  readonly status?: { readonly to: CampaignStatus; readonly reason: string } | undefined;
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
  /**
   * Stores the approval step's task token, only while the approval is pending; false (nothing written)
   * once it was decided.
   */
  storeApprovalToken(campaignId: string, token: string): Promise<boolean>;
  /**
   * Records the decision, only while the approval is pending (and, with a status, while the campaign is
   * running or paused); removes the stored token and answers it, so the caller can wake the waiting step.
   * `decided: false` (nothing written) when the condition failed.
   */
  decideApproval(
    campaignId: string,
    decision: ApprovalDecision,
  ): Promise<{ readonly decided: boolean; readonly token?: string | undefined }>;
  /** Moves one host from `from`; false (nothing written) when it is no longer `from`. */
  setHostState(
    campaignId: string,
    hostId: string,
    from: CampaignHostState,
    to: CampaignHostState,
    detail: { readonly executionName?: string; readonly outcome?: string; readonly endedAtMs?: number },
  ): Promise<boolean>;
}
