/**
 * The EventBridge "CloudWatch Alarm State Change" event, reduced to what rejuv reads, and the mapping
 * from an alarm to the host it is about: the value of a metric dimension, else the alarm name's suffix.
 */
import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { HostIdSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';

const DimensionsSchema = z.record(z.string().max(255), z.string().max(1024));

export const AlarmStateChangeEventSchema = z
  .object({
    source: z.literal('aws.cloudwatch'),
    'detail-type': z.literal('CloudWatch Alarm State Change'),
    account: z.string().regex(/^\d{12}$/),
    region: z.string().regex(/^[a-z0-9-]{1,32}$/),
    time: z.iso.datetime({ offset: true }),
    detail: z
      .object({
        alarmName: z.string().min(1).max(255),
        state: z
          .object({
            value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
            timestamp: z.string().min(1).max(64),
          })
          .loose(),
        configuration: z
          .object({
            metrics: z
              .array(
                z
                  .object({
                    metricStat: z
                      .object({ metric: z.object({ dimensions: DimensionsSchema.optional() }).loose() })
                      .loose()
                      .optional(),
                  })
                  .loose(),
              )
              .max(100)
              .optional(),
          })
          .loose()
          .optional(),
      })
      .loose(),
  })
  .loose();

export type AlarmStateChangeEvent = z.output<typeof AlarmStateChangeEventSchema>;

export interface AlarmMapping {
  readonly hostIdDimension: string;
  readonly alarmNamePrefix: string;
}

export function hostIdOfAlarm(event: AlarmStateChangeEvent, mapping: AlarmMapping): string {
  const fromDimension = (event.detail.configuration?.metrics ?? [])
    .map((m) => m.metricStat?.metric.dimensions?.[mapping.hostIdDimension])
    .find((v) => v !== undefined);
  const { alarmName } = event.detail;
  const fromName = alarmName.startsWith(mapping.alarmNamePrefix)
    ? alarmName.slice(mapping.alarmNamePrefix.length)
    : undefined;
  const candidate = fromDimension ?? fromName;
  if (candidate === undefined) {
    throw new ValidationError('alarm event', [
      `alarm ${JSON.stringify(alarmName)} names no host: no ${mapping.hostIdDimension} dimension and no ${mapping.alarmNamePrefix} prefix`,
    ]);
  }
  return parseWith(HostIdSchema, `host id from alarm ${JSON.stringify(alarmName)}`, candidate);
}
