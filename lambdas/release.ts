import { z } from 'zod';
import { release } from '../shared/workflow/release.js';
import { WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';
import { OptionalCaughtErrorSchema } from './runtime/step-inputs.js';

export const releaseStep = defineStep(
  'Release',
  // The happy path sends no error at all (CDK drops null members from task payloads).
  z.object({ ctx: WorkflowContextSchema, error: OptionalCaughtErrorSchema }).strict(),
  (deps, input) => release(deps, input.ctx, input.error ?? undefined),
);
export const handler = releaseStep(workflowDepsFromEnvironment);
