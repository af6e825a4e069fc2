/**
 * The campaign approval settings the construct writes into the operator API's environment
 * (`REJUV_CAMPAIGN_APPROVAL`); the policy itself is read by policy-config.ts.
 */
import { z } from 'zod';
import { jsonEnvironmentVariable } from './json-environment.js';

export const CAMPAIGN_APPROVAL_ENV = 'REJUV_CAMPAIGN_APPROVAL';

export const CampaignApprovalSettingsSchema = z.strictObject({
  /** Whether the operator who started a campaign may approve it too (no four-eyes). */
  allowSelfApproval: z.boolean(),
});
export type CampaignApprovalSettings = z.output<typeof CampaignApprovalSettingsSchema>;

export function campaignApprovalSettings(env: NodeJS.ProcessEnv = process.env): CampaignApprovalSettings {
  return jsonEnvironmentVariable(
    env,
    CAMPAIGN_APPROVAL_ENV,
    CampaignApprovalSettingsSchema,
    'RejuvenationCoordinator',
  );
}
