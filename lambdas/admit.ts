import { z } from 'zod';
import { ExecutionIdSchema } from '../shared/domain/identifiers.js';
import { admit } from '../shared/workflow/admit.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const admitStep = defineStep(
  'Admit',
  z.object({ executionId: ExecutionIdSchema, request: z.unknown() }).strict(),
  (deps, input) => admit(deps, input.executionId, input.request),
);
export const handler = admitStep(workflowDepsFromEnvironment);
