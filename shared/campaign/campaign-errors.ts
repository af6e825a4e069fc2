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
