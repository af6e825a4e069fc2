import { startFromOperator } from '../shared/workflow/start-rejuvenation.js';
import { triggerDepsFromEnvironment } from './runtime/trigger-deps.js';
import { defineTrigger } from './runtime/trigger-handler.js';

export const operatorTrigger = defineTrigger('OperatorTrigger', startFromOperator);
export const handler = operatorTrigger(triggerDepsFromEnvironment);
