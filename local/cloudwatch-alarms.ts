/**
 * Alarms in the local CloudWatch, only as far as the policy gate reads them: DescribeAlarms (StateValue,
 * AlarmNamePrefix, AlarmNames, AlarmTypes, MaxRecords 1-100 with NextToken) over alarms whose state a
 * test sets through `setAlarmState` (the seam that stands for CloudWatch evaluating a metric). No
 * PutMetricAlarm, no evaluation, no composite alarms: another part of local mode may add those; this
 * module is kept apart so that there is one implementation when they meet.
 */
import { AwsServiceError, type JsonOperation } from './json-protocol/aws-json-server.js';

export const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

interface StoredAlarm {
  readonly name: string;
  state: AlarmState;
  reason: string;
  updatedMs: number;
}

const invalid = (message: string) =>
  new AwsServiceError('InvalidParameterValueException', message, {
    code: 'InvalidParameterValue',
    status: 400,
  });

export interface LocalAlarms {
  readonly describeAlarms: JsonOperation;
  /** Creates the metric alarm if need be and sets its state, as CloudWatch's evaluation would. */
  setAlarmState(name: string, state: AlarmState, reason?: string): void;
}

export function localAlarms(options: { region: string; account: string; now: () => Date }): LocalAlarms {
  const alarms = new Map<string, StoredAlarm>();
  const describeAlarms: JsonOperation = (body) => {
    const state = body['StateValue'];
    if (state !== undefined && !ALARM_STATES.includes(state as AlarmState))
      throw invalid(`StateValue must be one of ${ALARM_STATES.join(', ')}.`);
    const prefix = body['AlarmNamePrefix'];
    const names = body['AlarmNames'];
    if (prefix !== undefined && names !== undefined)
      throw invalid('AlarmNamePrefix and AlarmNames cannot be used together.');
    const types = Array.isArray(body['AlarmTypes']) ? (body['AlarmTypes'] as unknown[]) : ['MetricAlarm'];
    const maxRecords = body['MaxRecords'] === undefined ? 50 : Number(body['MaxRecords']);
    if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > 100)
      throw invalid('MaxRecords must be from 1 to 100.');
    const matching = types.includes('MetricAlarm')
      ? [...alarms.values()]
          .filter((a) => state === undefined || a.state === state)
          .filter((a) => typeof prefix !== 'string' || a.name.startsWith(prefix))
          .filter((a) => !Array.isArray(names) || names.includes(a.name))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      : [];
    const offset =
      body['NextToken'] === undefined
        ? 0
        : Number(Buffer.from(String(body['NextToken']), 'base64url').toString());
    if (!Number.isInteger(offset) || offset < 0 || offset > matching.length)
      throw new AwsServiceError('InvalidNextToken', 'The service found NextToken invalid.', {
        code: 'InvalidNextToken',
        status: 400,
      });
    const page = matching.slice(offset, offset + maxRecords);
    return {
      MetricAlarms: page.map((a) => ({
        AlarmName: a.name,
        AlarmArn: `arn:aws:cloudwatch:${options.region}:${options.account}:alarm:${a.name}`,
        StateValue: a.state,
        StateReason: a.reason,
        StateUpdatedTimestamp: a.updatedMs / 1000,
      })),
      CompositeAlarms: [],
      ...(offset + maxRecords < matching.length
        ? { NextToken: Buffer.from(String(offset + maxRecords)).toString('base64url') }
        : {}),
    };
  };
  return {
    describeAlarms,
    setAlarmState: (name, state, reason = `set to ${state} by a test`) => {
      const updatedMs = options.now().getTime();
      const existing = alarms.get(name);
      if (existing === undefined) alarms.set(name, { name, state, reason, updatedMs });
      else Object.assign(existing, { state, reason, updatedMs });
    },
  };
}
