import { reportDryRun } from '../shared/workflow/dry-run-report.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';
import { ContextInputSchema } from './runtime/step-inputs.js';

export const dryRunReportStep = defineStep('DryRunReport', ContextInputSchema, (deps, input) =>
  reportDryRun(deps, input.ctx),
);
export const handler = dryRunReportStep(workflowDepsFromEnvironment);
