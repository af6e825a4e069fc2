/**
 * The fleet policy the construct writes into a function's environment (`REJUV_POLICY`, the `policy` prop as
 * given, checked at synth), read and validated once per container; a deployment without a policy has none
 * (no pool requires anything).
 */
import { parsePolicyConfig, type PolicyConfig } from '../../shared/policy/policy-config.js';

export const POLICY_ENV = 'REJUV_POLICY';

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
