import { z } from 'zod';
import { checkHostBack } from '../shared/workflow/await-host.js';
import { WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const awaitHostStep = defineStep(
  'AwaitHost',
  z
    .object({ ctx: WorkflowContextSchema, wait: z.object({ deadline: z.iso.datetime().optional() }).loose() })
    .strict(),
  (deps, input) => checkHostBack(deps, input.ctx, input.wait),
);
export const handler = awaitHostStep(workflowDepsFromEnvironment);
