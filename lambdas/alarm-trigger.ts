import { z } from 'zod';
import { parseWith } from '../shared/domain/validation.js';
import { RELOAD_LEVELS } from '../shared/workflow/rejuvenation-request.js';
import { startFromAlarm } from '../shared/workflow/start-rejuvenation.js';
import { triggerDepsFromEnvironment } from './runtime/trigger-deps.js';
import { defineTrigger } from './runtime/trigger-handler.js';

const AlarmMappingEnvSchema = z.object({
  REJUV_ALARM_HOST_DIMENSION: z.string().min(1).max(255).default('HostId'),
  REJUV_ALARM_NAME_PREFIX: z.string().min(1).max(200).default('rejuv-aging-'),
  REJUV_ALARM_RELOAD_LEVEL: z.enum(RELOAD_LEVELS).default('vmm-process'),
});

export const alarmTrigger = defineTrigger('AlarmTrigger', (deps, event) => {
  const env = parseWith(AlarmMappingEnvSchema, 'alarm trigger environment', process.env);
  return startFromAlarm(
    deps,
    {
      hostIdDimension: env.REJUV_ALARM_HOST_DIMENSION,
      alarmNamePrefix: env.REJUV_ALARM_NAME_PREFIX,
      level: env.REJUV_ALARM_RELOAD_LEVEL,
    },
    event,
  );
});
export const handler = alarmTrigger(triggerDepsFromEnvironment);
