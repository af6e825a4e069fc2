import { z } from 'zod';
import { compensate } from '../shared/workflow/compensate.js';
import { CaughtErrorSchema, WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const compensateStep = defineStep(
  'Compensate',
  z.object({ ctx: WorkflowContextSchema, error: CaughtErrorSchema }).strict(),
  (deps, input) => compensate(deps, input.ctx, input.error),
);
export const handler = compensateStep(workflowDepsFromEnvironment);
