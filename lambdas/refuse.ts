import { z } from 'zod';
import { ExecutionIdSchema } from '../shared/domain/identifiers.js';
import { recordRefusal } from '../shared/workflow/refuse.js';
import { CaughtErrorSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const refuseStep = defineStep(
  'Refuse',
  z.object({ executionId: ExecutionIdSchema, request: z.unknown(), error: CaughtErrorSchema }).strict(),
  (deps, input) => recordRefusal(deps, input.executionId, input.request, input.error),
);
export const handler = refuseStep(workflowDepsFromEnvironment);
