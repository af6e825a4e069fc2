import { z } from 'zod';
import { PendingCommandSchema, pollHostCommand } from '../shared/workflow/host-command-step.js';
import { PreflightFindingsSchema } from '../shared/workflow/preflight-findings.js';
import { WorkflowContextSchema } from '../shared/workflow/workflow-context.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';

export const hostCommandPollStep = defineStep(
  'HostCommandPoll',
  z
    .object({
      ctx: WorkflowContextSchema,
      command: PendingCommandSchema,
      preflight: PreflightFindingsSchema.optional(),
    })
    .strict(),
  (deps, input) => pollHostCommand(deps, input.ctx, input.command, input.preflight),
);
export const handler = hostCommandPollStep(workflowDepsFromEnvironment);
