import { z } from 'zod';
import { ExecutionIdSchema } from '../shared/domain/identifiers.js';
import { admit } from '../shared/workflow/admit.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { policyGateFromEnvironment } from './runtime/policy-config.js';
import { defineStep } from './runtime/step-handler.js';

export const admitStep = defineStep(
  'Admit',
  z.object({ executionId: ExecutionIdSchema, request: z.unknown() }).strict(),
  (deps, input) => admit(deps, input.executionId, input.request),
);
// Only Admit judges the policy: the other steps' environment does not carry it.
export const handler = admitStep(() => ({
  ...workflowDepsFromEnvironment(),
  policy: policyGateFromEnvironment(),
}));
