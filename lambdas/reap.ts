import { reapEndedExecution } from '../shared/workflow/reap-ended-execution.js';
import { workflowDepsFromEnvironment } from './runtime/aws-deps.js';
import { defineStep } from './runtime/step-handler.js';
import { z } from 'zod';

/** EventBridge delivers the execution status change; the use case validates it whole. */
export const reapStep = defineStep('Reap', z.unknown(), (deps, event) => reapEndedExecution(deps, event));
export const handler = reapStep(workflowDepsFromEnvironment);
