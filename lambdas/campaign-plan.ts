/** The campaign machine's plan: which hosts start now, or wait, or the campaign is over (campaign-steps.ts). */
import { planCampaignPass } from '../shared/campaign/campaign-steps.js';
import { campaignDepsFromEnvironment } from './runtime/campaign-deps.js';
import { toStepError } from './runtime/step-errors.js';

export async function handler(event: unknown): Promise<unknown> {
  try {
    return await planCampaignPass(campaignDepsFromEnvironment(true), event);
  } catch (error) {
    throw toStepError(error);
  }
}
