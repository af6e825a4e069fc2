import { startDrain } from '../shared/workflow/drain-steps.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';
import { ContextInputSchema } from './runtime/step-inputs.js';

export const drainStartStep = defineStep('DrainStart', ContextInputSchema, (deps, input) =>
  startDrain(deps, input.ctx),
);
export const handler = drainStartStep(workflowDepsFromEnvironment);
