import { z } from 'zod';
import { describeCaught } from '../shared/workflow/compensate.js';
import { quarantine } from '../shared/workflow/quarantine.js';
import { CaughtErrorSchema, WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const quarantineStep = defineStep(
  'Quarantine',
  z.object({ ctx: WorkflowContextSchema, error: CaughtErrorSchema }).strict(),
  (deps, input) => quarantine(deps, input.ctx, describeCaught(input.error)),
);
export const handler = quarantineStep(workflowDepsFromEnvironment);
