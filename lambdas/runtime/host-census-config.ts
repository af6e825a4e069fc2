/** The host Census document the construct writes into the operator API's environment (`REJUV_HOST_CENSUS`). */
import { OperatorConfigSchema } from '../../shared/operator/operator-deps.js';
import { jsonEnvironmentVariable } from './json-environment.js';

export const HOST_CENSUS_ENV = 'REJUV_HOST_CENSUS';

const HostCensusSchema = OperatorConfigSchema.shape.census.unwrap();

export function hostCensusConfig(env: NodeJS.ProcessEnv = process.env) {
  return jsonEnvironmentVariable(env, HOST_CENSUS_ENV, HostCensusSchema, 'RejuvenationCoordinator');
}
