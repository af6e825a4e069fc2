/**
 * The EventBridge "CloudWatch Alarm State Change" event, reduced to what rejuv reads, and the mapping
 * from an alarm to the host it is about: the value of a metric dimension, else the alarm name's suffix.
 */
import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { HostIdSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';

const DimensionsSchema = z.record(z.string().max(255), z.string().max(1024));

/** CloudWatch refuses ASCII control characters in alarm names; so does rejuv, whatever the sender. */
const AlarmNameSchema = z
  .string()
  .min(1)
  .max(255)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'alarm name must not contain control characters');

const STATE_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):?(\d{2}))$/;

/** The shape alone lets through instants that never were (month 13, February 30, 25:61, offset +9999). */
function isRealInstant(text: string): boolean {
  const m = STATE_TIMESTAMP.exec(text);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second);
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second &&
    (m[8] === 'Z' || (Number(m[9]) <= 23 && Number(m[10]) <= 59))
  );
}

/** CloudWatch writes state timestamps as 2026-11-25T10:00:00.000+0000. */
const StateTimestampSchema = z
  .string()
  .refine(isRealInstant, 'state timestamp: an ISO 8601 instant such as 2026-11-25T10:00:00.000+0000');

/** arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>; an alarm name may itself contain colons. */
const ALARM_ARN = /^arn:aws(?:-[a-z]+)*:cloudwatch:([^:]*):([^:]*):alarm:(.*)$/s;

export const AlarmStateChangeEventSchema = z
  .object({
    source: z.literal('aws.cloudwatch'),
    'detail-type': z.literal('CloudWatch Alarm State Change'),
    account: z.string().regex(/^\d{12}$/),
    region: z.string().regex(/^[a-z0-9-]{1,32}$/),
    time: z.iso.datetime({ offset: true }),
    // CloudWatch names exactly one resource, the alarm itself (checked against the name below).
    resources: z.tuple([z.string().max(2048)]),
    detail: z
      .object({
        alarmName: AlarmNameSchema,
        state: z
          .object({
            value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
            timestamp: StateTimestampSchema,
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
  .loose()
  .superRefine((event, ctx) => {
    const arn = ALARM_ARN.exec(event.resources[0]);
    if (
      arn === null ||
      arn[1] !== event.region ||
      arn[2] !== event.account ||
      arn[3] !== event.detail.alarmName
    )
      ctx.addIssue({
        code: 'custom',
        path: ['resources', 0],
        message: `must be the ARN of alarm ${JSON.stringify(event.detail.alarmName)} in ${event.region}, account ${event.account}, as in every CloudWatch alarm event`,
      });
  });

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
