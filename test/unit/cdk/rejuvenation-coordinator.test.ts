import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import { RejuvenationCoordinator } from '../../../cdk/rejuvenation-coordinator.js';
import { TABLE_DEFINITIONS } from '../../../shared/store/table-definitions.js';
import { HOST_DOCUMENTS } from '../../../shared/workflow/workflow-config.js';

/** Synthesis without bundling: these tests are about the template, not the function code. */
function synth(configure?: (stack: Stack) => void): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RejuvStack(app, 'Rejuv', {
    coordinator: {
      pools: { web: { maxHostsInMaintenance: 3 } },
      targetGroupArns: [
        'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef',
      ],
    },
  });
  configure?.(stack);
  return Template.fromStack(stack);
}

let template: Template;
beforeAll(() => {
  template = synth();
});

describe('Construct: RejuvenationCoordinator', () => {
  it('creates every table from the shared definition, on demand, with PITR, encryption and deletion protection', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', Object.keys(TABLE_DEFINITIONS).length);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'chainId', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byExecution' })],
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      ],
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'key', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'ttlEpochSeconds', Enabled: true },
    });
  });

  it('ships every host document as an SSM Command document, with allowedPatterns on its parameters', () => {
    template.resourceCountIs('AWS::SSM::Document', HOST_DOCUMENTS.length);
    const documents = template.findResources('AWS::SSM::Document');
    for (const doc of Object.values(documents)) {
      const content = doc.Properties.Content as {
        schemaVersion: string;
        parameters?: Record<string, { allowedPattern?: string; allowedValues?: string[] }>;
      };
      expect(doc.Properties.DocumentType).toBe('Command');
      expect(content.schemaVersion).toBe('2.2');
      for (const [name, param] of Object.entries(content.parameters ?? {})) {
        expect(param.allowedPattern ?? param.allowedValues, `parameter ${name}`).toBeDefined();
      }
    }
  });

  it('runs every function on Node 24 with tracing, and a standard state machine with full logging and X-Ray', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThanOrEqual(15);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    }
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  it('starts rejuvenation from CloudWatch aging alarms entering ALARM only', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: 'rejuv-aging-' }], state: { value: ['ALARM'] } },
      },
      Targets: [
        Match.objectLike({ RetryPolicy: { MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 8 } }),
      ],
    });
  });

  it('bounds how long an alarm event may wait in the alarm trigger queue (the trigger refuses older ones)', () => {
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'));
    expect(configs.map((c) => c.Properties)).toEqual([
      expect.objectContaining({
        FunctionName: { Ref: expect.stringMatching(/AlarmTriggerFunction/) },
        MaximumEventAgeInSeconds: 3600,
        MaximumRetryAttempts: 2,
      }),
    ]);
  });

  it('reaps executions of its own state machine that end stopped, timed out or failed', () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: Match.objectLike({ source: ['aws.states'] }) },
    });
    const [rule] = Object.values(rules);
    expect(Object.keys(rules)).toHaveLength(1);
    expect(rule?.Properties.EventPattern).toMatchObject({
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['ABORTED', 'TIMED_OUT', 'FAILED'], stateMachineArn: [{ Ref: expect.any(String) }] },
    });
    const target = (rule?.Properties.Targets as { Arn: { 'Fn::GetAtt': string[] } }[])[0];
    expect(target?.Arn['Fn::GetAtt'][0]).toMatch(/ReapFunction/);
  });

  it('allows SendCommand only for its own documents and only on instances carrying the managed tag', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );
    const sendCommand = statements.filter((s) => s['Action'] === 'ssm:SendCommand');
    expect(sendCommand).toHaveLength(2);
    const onInstances = sendCommand.find((s) => s['Condition'] !== undefined);
    expect(onInstances?.['Condition']).toEqual({ StringEquals: { 'ssm:resourceTag/rejuv:managed': 'true' } });
    const onDocuments = sendCommand.find((s) => s['Condition'] === undefined);
    expect(JSON.stringify(onDocuments?.['Resource'])).toContain(':document/');
    expect(JSON.stringify(onDocuments?.['Resource'])).not.toContain('"*"');
    const anyWildcardSend = statements.some(
      (s) => s['Action'] === 'ssm:SendCommand' && s['Resource'] === '*',
    );
    expect(anyWildcardSend).toBe(false);
  });

  it('gives each function access only to the tables it uses', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const triggerPolicy = Object.entries(policies).find(([id]) =>
      id.startsWith('CoordinatorOperatorTriggerFunction'),
    )?.[1];
    const text = JSON.stringify(triggerPolicy);
    expect(text).toContain('HostsTable');
    expect(text).not.toContain('AuditTable');
    expect(text).not.toContain('dynamodb:PutItem');
    expect(text).toContain('states:StartExecution');
  });

  it('encrypts the notification topic and refuses plain HTTP publishers', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it.each([
    [
      { defaultMaxHostsInMaintenance: 0 },
      /defaultMaxHostsInMaintenance must be an integer from 1 to 100, got 0/,
    ],
    [{ pools: { 'bad pool': { maxHostsInMaintenance: 1 } } }, /pool id "bad pool"/],
    [
      { leaseDuration: Duration.minutes(10) },
      /leaseDuration \(600 s\) must exceed the longest command timeout \(900 s\)/,
    ],
    [{ agingAlarmNamePrefix: '' }, /agingAlarmNamePrefix must be 1-200 characters/],
  ])('refuses bad props at synth time: %j', (props, message) => {
    const stack = new Stack(new App(), 'Bad');
    expect(() => new RejuvenationCoordinator(stack, 'C', props)).toThrow(message);
  });

  it.each([
    ['an environment-agnostic stack', undefined],
    ['a stack bound to an account and region', { account: '123456789012', region: 'eu-west-1' }],
  ])(
    'passes the cdk-nag AwsSolutions checks as %s, every remaining finding acknowledged with a reason',
    (_what, env) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      new RejuvStack(app, 'Rejuv', {
        ...(env === undefined ? {} : { env }),
        coordinator: {
          targetGroupArns: [
            'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef',
          ],
        },
      });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).not.toThrow();
    },
  );
});
