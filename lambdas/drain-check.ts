import { isDrained } from '../shared/workflow/drain-steps.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';
import { ContextInputSchema } from './runtime/step-inputs.js';

export const drainCheckStep = defineStep('DrainCheck', ContextInputSchema, async (deps, input) => ({
  drained: await isDrained(deps, input.ctx),
}));
export const handler = drainCheckStep(workflowDepsFromEnvironment);
