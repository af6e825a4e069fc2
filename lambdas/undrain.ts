import { undrain } from '../shared/workflow/drain-steps.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';
import { ContextInputSchema } from './runtime/step-inputs.js';

export const undrainStep = defineStep('Undrain', ContextInputSchema, (deps, input) =>
  undrain(deps, input.ctx),
);
export const handler = undrainStep(workflowDepsFromEnvironment);
