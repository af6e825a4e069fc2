import { z } from 'zod';
import { startHostCommand } from '../shared/workflow/host-command-step.js';
import { PreflightFindingsSchema } from '../shared/workflow/preflight-findings.js';
import { HOST_DOCUMENTS } from '../shared/workflow/workflow-config.js';
import { WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const hostCommandStartStep = defineStep(
  'HostCommandStart',
  z
    .object({
      ctx: WorkflowContextSchema,
      document: z.enum(HOST_DOCUMENTS),
      preflight: PreflightFindingsSchema.optional(),
    })
    .strict(),
  async (deps, input) => ({
    done: false,
    command: await startHostCommand(deps, input.ctx, input.document, input.preflight),
  }),
);
export const handler = hostCommandStartStep(workflowDepsFromEnvironment);
