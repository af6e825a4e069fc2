import { z } from 'zod';
import { HostStateSchema } from '../shared/domain/host.js';
import { advance } from '../shared/workflow/advance.js';
import { WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const advanceStep = defineStep(
  'Advance',
  z
    .object({ ctx: WorkflowContextSchema, to: HostStateSchema, step: z.string().regex(/^[A-Za-z]{1,64}$/) })
    .strict(),
  (deps, input) => advance(deps, input.ctx, input.to, { step: input.step }),
);
export const handler = advanceStep(workflowDepsFromEnvironment);
