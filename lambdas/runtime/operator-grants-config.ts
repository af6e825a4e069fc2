/** The operator grants the construct writes into the operator API's environment (`REJUV_OPERATOR_GRANTS`). */
import { OperatorGrantsSchema, type OperatorGrant } from '../../shared/operator/operator-grants.js';
import { jsonEnvironmentVariable } from './json-environment.js';

export const OPERATOR_GRANTS_ENV = 'REJUV_OPERATOR_GRANTS';

export function operatorGrantsConfig(env: NodeJS.ProcessEnv = process.env): readonly OperatorGrant[] {
  return jsonEnvironmentVariable(env, OPERATOR_GRANTS_ENV, OperatorGrantsSchema, 'RejuvenationCoordinator');
}
