/**
 * The shape of every workflow Lambda: parse the input with a schema, run one use case with the deps,
 * return its typed result. Errors keep their names for the state machine; every call is logged and counted.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { z } from 'zod';
import { parseWith } from '../../shared/domain/validation.js';
import type { WorkflowDeps } from '../../shared/workflow/workflow-deps.js';
import { logger, metrics } from './observability.js';
import { toStepError } from './step-errors.js';

export type StepHandler<R> = (event: unknown) => Promise<R>;
export type DepsProvider = () => WorkflowDeps;

/** A step's definition; bind it to deps with `(provider) => handler`. */
export function defineStep<S extends z.ZodType, R>(
  step: string,
  inputSchema: S,
  run: (deps: WorkflowDeps, input: z.output<S>) => Promise<R>,
): (deps: DepsProvider) => StepHandler<R> {
  return (deps) => async (event) => {
    const startedMs = Date.now();
    const single = metrics.singleMetric();
    single.addDimension('step', step);
    try {
      const input = parseWith(inputSchema, `${step} input`, event);
      const result = await run(deps(), input);
      single.addMetric('StepSucceeded', MetricUnit.Count, 1);
      logger.debug('step succeeded', { step, durationMs: Date.now() - startedMs });
      return result;
    } catch (error) {
      const stepError = toStepError(error);
      single.addMetric('StepFailed', MetricUnit.Count, 1);
      logger.warn('step failed', { step, durationMs: Date.now() - startedMs, error: stepError as Error });
      throw stepError;
    }
  };
}
