import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import {
  RejuvenationCoordinator,
  type RejuvenationCoordinatorProps,
} from '../../../cdk/rejuvenation-coordinator.js';
import { AGING_ALARMS_ENV, AgingAlarmSettingsSchema } from '../../../shared/aging/aging-alarm-settings.js';
import { desiredAlarms } from '../../../shared/aging/aging-alarms.js';

/** Synthesis without bundling: these tests are about the template, not the function code. */
function synth(coordinator: RejuvenationCoordinatorProps, env?: { account: string; region: string }) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RejuvStack(app, 'Rejuv', { coordinator, ...(env === undefined ? {} : { env }) });
  return { app, template: Template.fromStack(stack) };
}

function hostSyncEnvironment(template: Template): Record<string, string> {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Description: 'rejuv scheduled HostSync' },
  });
  const [fn] = Object.values(functions);
  return (fn?.Properties as { Environment: { Variables: Record<string, string> } }).Environment.Variables;
}

let template: Template;
beforeAll(() => {
  ({ template } = synth({ agingAlarms: { pools: { batch: { memAvailableBelowPercent: 4 } } } }));
}, 60_000);

describe('Construct: RejuvenationCoordinator › agingAlarms', () => {
  it("gives the host sync the alarms' settings, and the AlarmTrigger's rule takes the ALARMs of the names it makes", () => {
    const settings = AgingAlarmSettingsSchema.parse(
      JSON.parse(hostSyncEnvironment(template)[AGING_ALARMS_ENV] ?? ''),
    );
    expect(settings).toMatchObject({
      prefix: 'rejuv-aging-',
      namespace: 'Rejuv/Aging',
      defaults: { memAvailableBelowPercent: 10, periodSeconds: 300, evaluationPeriods: 3 },
      pools: { batch: { memAvailableBelowPercent: 4 } },
    });
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: { source: ['aws.cloudwatch'] } },
    });
    expect(Object.keys(rules)).toHaveLength(1);
    const pattern = Object.values(rules)[0]?.Properties.EventPattern as {
      'detail-type': string[];
      detail: { alarmName: { prefix: string }[]; state: { value: string[] } };
    };
    expect(pattern['detail-type']).toEqual(['CloudWatch Alarm State Change']);
    expect(pattern.detail.state.value).toEqual(['ALARM']);
    for (const alarm of desiredAlarms({ hostId: 'hv-1', pool: 'batch' }, settings))
      expect(alarm.name.startsWith(pattern.detail.alarmName[0]?.prefix ?? '\u0000')).toBe(true);
  });

  it('lets the host sync put and delete only alarms under the prefix, and describe alarms', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'],
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':cloudwatch:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':alarm:rejuv-aging-*',
                ],
              ],
            },
          }),
          Match.objectLike({ Action: 'cloudwatch:DescribeAlarms', Resource: '*' }),
        ]),
      },
    });
    // Nobody else may touch alarms.
    const policies = template.findResources('AWS::IAM::Policy');
    const writers = Object.values(policies).filter((p) =>
      JSON.stringify(p).includes('cloudwatch:PutMetricAlarm'),
    );
    expect(writers).toHaveLength(1);
  });

  it('leaves alarms alone when disabled, and refuses bad thresholds or a host dimension the alarms do not carry', () => {
    const { template: disabled } = synth({ agingAlarms: { enabled: false } });
    expect(hostSyncEnvironment(disabled)[AGING_ALARMS_ENV]).toBeUndefined();
    expect(JSON.stringify(disabled.toJSON())).not.toContain('cloudwatch:PutMetricAlarm');
    const bad = (props: RejuvenationCoordinatorProps) => () =>
      new RejuvenationCoordinator(
        new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bad'),
        'C',
        props,
      );
    expect(bad({ agingAlarms: { defaults: { datapointsToAlarm: 5 } } })).toThrow(
      /agingAlarms: .*datapointsToAlarm must not exceed evaluationPeriods/,
    );
    expect(bad({ agingAlarms: { pools: { 'bad pool': {} } } })).toThrow(/agingAlarms: pools/);
    expect(bad({ hostIdDimension: 'Host' })).toThrow(/HostId/);
    expect(bad({ hostIdDimension: 'Host', agingAlarms: { enabled: false } })).not.toThrow();
  });

  it('passes the cdk-nag AwsSolutions checks with the alarm grants, bound to an account and region', () => {
    const { app } = synth({}, { account: '123456789012', region: 'eu-west-1' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
