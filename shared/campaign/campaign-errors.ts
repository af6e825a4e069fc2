/** Errors of the campaign core; names are literals, as everywhere in rejuv (a minifier renames classes). */
import { RejuvError } from '../domain/errors.js';

/** An operator move that the campaign's status does not allow, e.g. resuming a cancelled campaign. */
export class CampaignTransitionError extends RejuvError {
  override readonly name = 'CampaignTransitionError';
  readonly retryable = false;
  constructor(
    readonly campaignId: string,
    readonly status: string,
    readonly action: string,
  ) {
    super(`campaign ${campaignId} is ${status}: cannot ${action}`);
  }
}

export class CampaignNotFoundError extends RejuvError {
  override readonly name = 'CampaignNotFoundError';
  readonly retryable = false;
  constructor(readonly campaignId: string) {
    super(`no campaign ${campaignId}`);
  }
}

export class CampaignExistsError extends RejuvError {
  override readonly name = 'CampaignExistsError';
  readonly retryable = false;
  constructor(readonly campaignId: string) {
    super(`campaign ${campaignId} already exists`);
  }
}

/** An approval or rejection the campaign's approval does not allow: none required, or already decided. */
export class CampaignApprovalError extends RejuvError {
  override readonly name = 'CampaignApprovalError';
  readonly retryable = false;
  constructor(
    readonly campaignId: string,
    message: string,
  ) {
    super(`campaign ${campaignId}: ${message}`);
  }
}

/**
 * The approval step found the approval already decided when it came to wait for it: the state machine
 * catches this by name and plans again, which reads the decision.
 */
export class CampaignApprovalDecidedError extends RejuvError {
  override readonly name = 'CampaignApprovalDecidedError';
  readonly retryable = false;
  constructor(
    readonly campaignId: string,
    readonly state: string,
  ) {
    super(`campaign ${campaignId}: approval already ${state}`);
  }
}
