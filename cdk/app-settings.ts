/**
 * The deployment settings of the rejuv app: what a user chooses when deploying (pools and limits, the
 * aging alarms, target groups, where notifications go, log retention, the managed-instance tag, the
 * stack's name and environment), the schema that checks them, and their mapping to the stack's props.
 * Where the settings come from (a config file, context keys) is `read-app-settings.ts`.
 */
import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import { PoolIdSchema } from '../shared/domain/identifiers.js';
import { OperatorGrantsSchema } from '../shared/operator/operator-grants.js';
import { PolicyConfigSchema, type PolicyConfigInput } from '../shared/policy/policy-config.js';
import { RELOAD_LEVELS } from '../shared/workflow/rejuvenation-request.js';
import type { RejuvStackProps } from './rejuv-stack.js';

/** The retention periods CloudWatch Logs accepts, in days (CDK's INFINITE, 9999, is not one). */
export const LOG_RETENTION_DAYS: readonly number[] = Object.values(RetentionDays).filter(
  (v): v is number => typeof v === 'number' && v !== RetentionDays.INFINITE,
);

const MaintenanceLimitSchema = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be an integer from 1 to 100' })
  .min(1, { error: 'must be an integer from 1 to 100' })
  .max(100, { error: 'must be an integer from 1 to 100' });

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Standard topics only: CloudWatch alarm actions cannot publish to FIFO topics. */
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$/;
const TARGET_GROUP_ARN =
  /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/;

/** An email address (subscribed to the topic the stack creates) or the ARN of an existing standard topic. */
const NotificationSchema = z
  .string({ error: 'must be an email address or an SNS topic ARN' })
  .transform((value, ctx): NotificationSetting => {
    if (TOPIC_ARN.test(value)) return { topicArn: value };
    if (EMAIL.test(value) && value.length <= 254) return { email: value };
    ctx.addIssue({
      code: 'custom',
      message:
        'must be an email address or the ARN of a standard SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME)',
    });
    return z.NEVER;
  });

export type NotificationSetting = { readonly email: string } | { readonly topicArn: string };

export const AppSettingsSchema = z
  .strictObject({
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, {
        error: 'must be a CloudFormation stack name: 1-128 chars of A-Z a-z 0-9 -, starting with a letter',
      })
      .optional(),
    env: z
      .strictObject({
        account: z
          .string()
          .regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' })
          .optional(),
        region: z
          .string()
          .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: 'must be an AWS region such as eu-west-1' })
          .optional(),
      })
      .optional(),
    pools: z
      .record(PoolIdSchema, z.strictObject({ maxHostsInMaintenance: MaintenanceLimitSchema }), {
        error: (issue) =>
          issue.code === 'invalid_key'
            ? 'not a pool id: 1-63 chars of A-Z a-z 0-9 . _ -, starting alphanumeric'
            : 'must be an object of pool ids',
      })
      .optional(),
    defaultMaxHostsInMaintenance: MaintenanceLimitSchema.optional(),
    agingAlarmNamePrefix: z
      .string()
      .regex(/^[^\p{Cc}]{1,200}$/u, { error: 'must be 1-200 characters, no control characters' })
      .optional(),
    hostIdDimension: z
      .string()
      .regex(/^[^:\p{Cc}][^\p{Cc}]{0,254}$/u, {
        error: 'must be a CloudWatch dimension name: 1-255 characters, not starting with ":"',
      })
      .optional(),
    alarmReloadLevel: z
      .enum(RELOAD_LEVELS, { error: `must be one of ${RELOAD_LEVELS.join(', ')}` })
      .optional(),
    targetGroupArns: z
      .array(
        z.string().regex(TARGET_GROUP_ARN, {
          error:
            'must be a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)',
        }),
      )
      .max(20, { error: 'at most 20 target groups' })
      .refine((arns) => new Set(arns).size === arns.length, { error: 'lists a target group twice' })
      .optional(),
    notification: NotificationSchema.optional(),
    logRetentionDays: z
      .number({ error: 'must be a number of days' })
      .refine((d) => LOG_RETENTION_DAYS.includes(d), {
        error: `must be one of the periods CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .optional(),
    managedInstanceTag: z
      .strictObject({
        key: z
          .string()
          .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, { error: 'must be a tag key: 1-128 characters' })
          .refine((k) => !k.toLowerCase().startsWith('aws:'), { error: 'must not start with "aws:"' }),
        value: z
          .string()
          .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u, { error: 'must be a tag value: 1-256 characters' }),
      })
      .optional(),
    /** Who may act through the operator API on which pools (see RejuvenationCoordinatorProps.operators). */
    operators: OperatorGrantsSchema.optional(),
    /**
     * The policy gate (see RejuvenationCoordinatorProps.policy). Checked below with the policy's own
     * schema but kept as written: the construct takes the policy as a user writes it.
     */
    policy: z.unknown().optional(),
    /** The fleet-wide aging collection (see RejuvenationCoordinatorProps.agingCollection). */
    agingCollection: z
      .strictObject({
        enabled: z.boolean({ error: 'must be true or false' }).optional(),
        intervalMinutes: z
          .number({ error: 'must be a number of minutes' })
          .int({ error: 'must be whole minutes' })
          .min(2, { error: 'must be at least 2 minutes' })
          .max(1440, { error: 'must be at most 1440 minutes (a day)' })
          .optional(),
        maxConcurrency: z
          .string()
          .regex(/^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/, {
            error: 'must be a number from 1, or a percentage from 1% to 100% (SSM MaxConcurrency)',
          })
          .optional(),
        maxErrors: z
          .string()
          .regex(/^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/, {
            error: 'must be a number from 0, or a percentage from 0% to 100% (SSM MaxErrors)',
          })
          .optional(),
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.policy !== undefined) {
      const policy = PolicyConfigSchema.safeParse(s.policy);
      for (const issue of policy.error?.issues ?? [])
        ctx.addIssue({ code: 'custom', path: ['policy', ...issue.path], message: issue.message });
    }
    const topicRegion =
      s.notification !== undefined &&
      'topicArn' in s.notification &&
      TOPIC_ARN.exec(s.notification.topicArn)?.[1];
    if (topicRegion && s.env?.region !== undefined && topicRegion !== s.env.region) {
      ctx.addIssue({
        code: 'custom',
        path: ['notification'],
        message: `the topic is in ${topicRegion} but the stack deploys to ${s.env.region}; CloudWatch alarms notify topics of their own region only`,
      });
    }
  });

export type AppSettings = z.output<typeof AppSettingsSchema>;

export interface Environment {
  readonly account?: string | undefined;
  readonly region?: string | undefined;
}

/**
 * The settings as the stack's props; anything left out keeps the construct's documented default, and
 * the account and region default to `defaultEnv` (the CLI's, from CDK_DEFAULT_ACCOUNT/REGION).
 */
export function toStackProps(settings: AppSettings, defaultEnv: Environment = {}): RejuvStackProps {
  const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
    value === undefined ? {} : ({ [key]: value } as Record<K, V>);
  return {
    ...optional('stackName', settings.stackName),
    env: {
      ...optional('account', settings.env?.account ?? defaultEnv.account),
      ...optional('region', settings.env?.region ?? defaultEnv.region),
    },
    ...optional('notification', settings.notification),
    coordinator: {
      ...optional('pools', settings.pools),
      ...optional('defaultMaxHostsInMaintenance', settings.defaultMaxHostsInMaintenance),
      ...optional('agingAlarmNamePrefix', settings.agingAlarmNamePrefix),
      ...optional('hostIdDimension', settings.hostIdDimension),
      ...optional('alarmReloadLevel', settings.alarmReloadLevel),
      ...optional('targetGroupArns', settings.targetGroupArns),
      ...optional('managedInstanceTag', settings.managedInstanceTag),
      ...optional('operators', settings.operators),
      // Checked against PolicyConfigSchema by the settings schema's refinement.
      ...optional('policy', settings.policy as PolicyConfigInput | undefined),
      ...optional(
        'agingCollection',
        settings.agingCollection === undefined
          ? undefined
          : {
              ...optional('enabled', settings.agingCollection.enabled),
              ...optional('maxConcurrency', settings.agingCollection.maxConcurrency),
              ...optional('maxErrors', settings.agingCollection.maxErrors),
              ...optional(
                'interval',
                settings.agingCollection.intervalMinutes === undefined
                  ? undefined
                  : Duration.minutes(settings.agingCollection.intervalMinutes),
              ),
            },
      ),
      // The schema admits only the values of RetentionDays, so the number is one of its members.
      ...optional('logRetention', settings.logRetentionDays as RetentionDays | undefined),
    },
  };
}
