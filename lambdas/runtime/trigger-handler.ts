/** Triggers log and count like the steps, and let rejuv's errors through with their names. */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { TriggerDeps, TriggerResult } from '../../shared/workflow/start-rejuvenation.js';
import { logger, metrics } from './observability.js';
import { toStepError } from './step-errors.js';

export function defineTrigger(
  name: string,
  run: (deps: TriggerDeps, event: unknown) => Promise<TriggerResult>,
): (deps: () => TriggerDeps) => (event: unknown) => Promise<TriggerResult> {
  return (deps) => async (event) => {
    const single = metrics.singleMetric();
    single.addDimension('trigger', name);
    try {
      const result = await run(deps(), event);
      single.addMetric(`Trigger_${result.status}`, MetricUnit.Count, 1);
      logger.info('trigger handled', { trigger: name, result });
      return result;
    } catch (error) {
      single.addMetric('Trigger_rejected', MetricUnit.Count, 1);
      logger.warn('trigger rejected', { trigger: name, error: error as Error });
      throw toStepError(error);
    }
  };
}
