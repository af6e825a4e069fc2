/** The campaign machine's record of one host's execution: done or failed (campaign-steps.ts). */
import { recordCampaignHost } from '../shared/campaign/campaign-steps.js';
import { campaignDepsFromEnvironment } from './runtime/campaign-deps.js';
import { toStepError } from './runtime/step-errors.js';

export async function handler(event: unknown): Promise<unknown> {
  try {
    return await recordCampaignHost(campaignDepsFromEnvironment(), event);
  } catch (error) {
    throw toStepError(error);
  }
}
