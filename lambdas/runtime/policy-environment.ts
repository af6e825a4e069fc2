/**
 * The fleet policy the construct writes into a function's environment (`REJUV_POLICY`, the `policy` prop as
 * given, checked at synth), and the campaign approval settings (`REJUV_CAMPAIGN_APPROVAL`). Both are read
 * and validated once per container; a deployment without a policy has none (no pool requires anything).
 */
import { z } from 'zod';
import { parsePolicyConfig, type PolicyConfig } from '../../shared/policy/policy-config.js';
import { jsonEnvironmentVariable } from './json-environment.js';

export const POLICY_ENV = 'REJUV_POLICY';
export const CAMPAIGN_APPROVAL_ENV = 'REJUV_CAMPAIGN_APPROVAL';

export const CampaignApprovalSettingsSchema = z.strictObject({
  /** Whether the operator who started a campaign may approve it too (no four-eyes). */
  allowSelfApproval: z.boolean(),
});
export type CampaignApprovalSettings = z.output<typeof CampaignApprovalSettingsSchema>;

/** The policy, or undefined when the deployment set none. */
export function policyFromEnvironment(env: NodeJS.ProcessEnv = process.env): PolicyConfig | undefined {
  const raw = env[POLICY_ENV];
  if (raw === undefined || raw === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new Error(`${POLICY_ENV} is not JSON`, { cause: error });
  }
  return parsePolicyConfig(json);
}

export function campaignApprovalSettings(env: NodeJS.ProcessEnv = process.env): CampaignApprovalSettings {
  return jsonEnvironmentVariable(
    env,
    CAMPAIGN_APPROVAL_ENV,
    CampaignApprovalSettingsSchema,
    'RejuvenationCoordinator',
  );
}
