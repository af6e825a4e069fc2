/**
 * AlarmStates on CloudWatch: DescribeAlarms with StateValue=ALARM, metric and composite alarms, every
 * page of NextToken followed. Errors pass unchanged: the step runtime turns throttling into a retry, and
 * a refusal (no cloudwatch:DescribeAlarms) fails the step, so the gate never allows for want of facts.
 */
import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { AlarmStates } from '../../ports/alarm-states.js';

/** DescribeAlarms' largest page. */
const PAGE_SIZE = 100;

export class CloudWatchAlarmStates implements AlarmStates {
  constructor(private readonly cloudWatch: CloudWatchClient) {}

  async namesInAlarm(): Promise<string[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.cloudWatch.send(
        new DescribeAlarmsCommand({
          StateValue: 'ALARM',
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          MaxRecords: PAGE_SIZE,
          NextToken: nextToken,
        }),
      );
      for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])])
        if (alarm.AlarmName !== undefined) names.push(alarm.AlarmName);
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return names;
  }
}
