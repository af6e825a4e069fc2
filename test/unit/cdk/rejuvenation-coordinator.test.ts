import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonEnvironmentVariable } from '../../../lambdas/runtime/json-environment.js';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import { TABLE_GRANTS } from '../../../cdk/function-grants.js';
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
// A whole-stack synth takes several seconds, more than the default 10 s hook timeout on a loaded 2-core machine.
beforeAll(() => {
  template = synth();
}, 60_000);

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
    // The workflow's documents, CollectAging and Census, which no function of the workflow sends.
    template.resourceCountIs('AWS::SSM::Document', HOST_DOCUMENTS.length + 2);
    const documents = template.findResources('AWS::SSM::Document');
    const collect = Object.entries(documents).find(([id]) => id.includes('CollectAgingDocument'));
    expect(collect?.[1].Properties.Content).toMatchObject({
      parameters: { hostId: { allowedPattern: '^(-|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$' } },
    });
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
    expect(configs.map((c) => c.Properties)).toContainEqual(
      expect.objectContaining({
        FunctionName: { Ref: expect.stringMatching(/AlarmTriggerFunction/) },
        MaximumEventAgeInSeconds: 3600,
        MaximumRetryAttempts: 2,
      }),
    );
  });

  it('seals the audit trail with a signing key, into an Object Lock bucket, on a schedule and at every end', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        detail: Match.objectLike({ status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] }),
      }),
    });
  });

  it('denies everyone deleting a digest, so no delete marker can hide one, and outputs the seal interval', () => {
    const buckets = template.findResources('AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } });
    const [digestBucket] = Object.keys(buckets);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: digestBucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'DenyDigestDeletes',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [digestBucket, 'Arn'] }, '/audit-digests/*']] },
          },
        ]),
      },
    });
    template.hasOutput('AuditSealIntervalSeconds', { Value: '900' });
  });

  it('denies every workflow function updates and deletes of audit items', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
      /(Advance|Admit|Release|Reap)FunctionRole/.test(id),
    );
    expect(policies).toHaveLength(4);
    for (const [, policy] of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:DeleteItem']),
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/AuditTable/), 'Arn'] },
        }),
      );
    }
  });

  it('reaps executions of its own state machine that end stopped, timed out or failed', () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: Match.objectLike({ source: ['aws.states'] }) },
    });
    // The other rule on ended executions seals the audit trail (see the AuditDigests tests).
    const reapRules = Object.values(rules).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes('ReapFunction'),
    );
    const [rule] = reapRules;
    expect(reapRules).toHaveLength(1);
    expect(rule?.Properties.EventPattern).toMatchObject({
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['ABORTED', 'TIMED_OUT', 'FAILED'], stateMachineArn: [{ Ref: expect.any(String) }] },
    });
    const target = (rule?.Properties.Targets as { Arn: { 'Fn::GetAtt': string[] } }[])[0];
    expect(target?.Arn['Fn::GetAtt'][0]).toMatch(/ReapFunction/);
  });

  it('runs the pending drainer on a schedule and at every end of its own executions, starting only those', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes('PendingDrainFunction'),
    );
    expect(rules.map((r) => r.Properties.ScheduleExpression ?? r.Properties.EventPattern)).toEqual([
      'rate(5 minutes)',
      expect.objectContaining({
        source: ['aws.states'],
        detail: {
          status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [{ Ref: expect.any(String) }],
        },
      }),
    ]);
    const drainer = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties.Description).includes('PendingDrain'),
    );
    expect(drainer?.Properties.Environment.Variables.REJUV_PENDING_MAX_AGE_SECONDS).toBe(
      String(7 * 24 * 3600),
    );
    const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('CoordinatorPendingDrainFunctionRole'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]);
    const starts = statements.filter((s) => JSON.stringify(s.Action).includes('states:StartExecution'));
    expect(starts).toHaveLength(1);
    expect(JSON.stringify(starts[0]?.Resource)).not.toMatch(/Campaign/);
  });

  it('allows SendCommand only for its own documents and only on instances carrying the managed tag', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );
    const sendCommand = statements.filter((s) => s['Action'] === 'ssm:SendCommand');
    // The workflow's step, the operator API (a release's checks) and the aging collector, two statements each.
    expect(sendCommand).toHaveLength(7);
    for (const onInstances of sendCommand.filter((s) => s['Condition'] !== undefined))
      expect(onInstances['Condition']).toEqual({ StringEquals: { 'ssm:resourceTag/rejuv:managed': 'true' } });
    const onDocuments = sendCommand.filter((s) => s['Condition'] === undefined);
    expect(onDocuments).toHaveLength(4);
    for (const statement of onDocuments) {
      expect(JSON.stringify(statement['Resource'])).toContain(':document/');
      expect(JSON.stringify(statement['Resource'])).not.toContain('"*"');
    }
    // The operator API may send Preflight, Verify and Census only: never WarmReboot or Recover.
    const byOperatorApi = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('OperatorApiFunctionRole'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .filter((s) => s['Action'] === 'ssm:SendCommand' && s['Condition'] === undefined);
    const documents = JSON.stringify(byOperatorApi.map((s) => s['Resource']));
    expect(documents).toMatch(/PreflightDocument/);
    expect(documents).toMatch(/VerifyDocument/);
    expect(documents).toMatch(/CensusDocument/);
    expect(documents).not.toMatch(/WarmRebootDocument|RecoverDocument/);
    expect(JSON.stringify(onDocuments.filter((s) => !byOperatorApi.includes(s)))).not.toMatch(
      /CensusDocument/,
    );
    // CollectAging is the collector's alone, and the collector may send nothing else.
    const byCollector = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('AgingCollectorFunctionRole'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .find((s) => s['Action'] === 'ssm:SendCommand' && s['Condition'] === undefined);
    expect(JSON.stringify(byCollector?.['Resource'])).toMatch(/CollectAgingDocument/);
    expect(JSON.stringify(byCollector?.['Resource'])).not.toMatch(
      /PreflightDocument|WarmReboot|Verify|Recover/,
    );
    expect(JSON.stringify(onDocuments.filter((s) => s !== byCollector))).not.toMatch(/CollectAgingDocument/);
    const anyWildcardSend = statements.some(
      (s) => s['Action'] === 'ssm:SendCommand' && s['Resource'] === '*',
    );
    expect(anyWildcardSend).toBe(false);
  });

  it('grants each function exactly the DynamoDB actions its store operations make, per table', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const tableIdOf = (resource: unknown): string => {
      const logicalId = (resource as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0] ?? '';
      const id = Object.keys(TABLE_DEFINITIONS).find((t) => logicalId.toLowerCase().includes(`${t}table`));
      if (id === undefined)
        throw new Error(`a DynamoDB grant on ${JSON.stringify(resource)}, not a table ARN`);
      return id;
    };
    for (const [fnId, grant] of Object.entries(TABLE_GRANTS)) {
      const policy = Object.entries(policies).find(([id]) => id.startsWith(`Coordinator${fnId}FunctionRole`));
      const statements = (policy?.[1].Properties.PolicyDocument.Statement ?? []) as {
        Effect: string;
        Action: string | string[];
        Resource: unknown;
      }[];
      const granted: Record<string, string[]> = {};
      const onIndexes: string[] = [];
      // Conditioned grants (the collector's own keys of the idempotency table) are checked on their own below.
      for (const statement of statements.filter((s) => s.Effect === 'Allow' && !('Condition' in s))) {
        const actions = [statement.Action].flat().filter((a) => a.startsWith('dynamodb:'));
        if (actions.length === 0) continue;
        for (const resource of [statement.Resource].flat()) {
          // An index ARN (`<table ARN>/index/<name>`) is checked apart, below.
          if (JSON.stringify(resource).includes('/index/')) {
            onIndexes.push(`${actions.join(',')} ${JSON.stringify(resource)}`);
            continue;
          }
          const table = tableIdOf(resource);
          granted[table] = [...(granted[table] ?? []), ...actions].sort();
        }
      }
      const expected = Object.fromEntries(
        Object.entries(grant).map(([table, actions]) => [table, actions.map((a) => `dynamodb:${a}`).sort()]),
      );
      expect({ fnId, granted }).toEqual({ fnId, granted: expected });
      // Only the pending drainer queries an index: the pending table's byQueue, and only that.
      expect({ fnId, onIndexes }).toEqual({
        fnId,
        onIndexes:
          fnId === 'PendingDrain'
            ? [expect.stringMatching(/^dynamodb:Query .*PendingTable.*\/index\/byQueue"\]\]\}$/)]
            : [],
      });
    }
  });

  it('lets only the triggers and the campaign plan write the idempotency table: a claim proves a trigger started its execution', () => {
    const writers = Object.entries(TABLE_GRANTS)
      .filter(([, grant]) => (grant.idempotency ?? []).some((a) => a !== 'GetItem'))
      .map(([fnId]) => fnId)
      .sort();
    // The campaign plan starts hosts for the operator who started the campaign, and the predictor for
    // the aging it foresees: both claim as a trigger does.
    // The pending drainer starts the queued alarm and prediction requests, claimed as their triggers would.
    expect(writers).toEqual([
      'AgingPredictor',
      'AlarmTrigger',
      'CampaignPlan',
      'OperatorApi',
      'PendingDrain',
    ]);
    expect(TABLE_GRANTS.Admit.idempotency).toEqual(['GetItem']);
    const idempotencyWrites = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(
        ([id]) =>
          !/^Coordinator(AgingPredictor|AlarmTrigger|OperatorApi|CampaignPlan|PendingDrain)FunctionRole/.test(
            id,
          ),
      )
      .flatMap(
        ([, p]) =>
          p.Properties.PolicyDocument.Statement as {
            Effect: string;
            Action: unknown;
            Resource: unknown;
            Condition?: unknown;
          }[],
      )
      .filter(
        (s) => s.Effect === 'Allow' && JSON.stringify(s.Resource).toLowerCase().includes('idempotencytable'),
      )
      .filter((s) => !isCollectorRoundGrant(s))
      .flatMap((s) => [s.Action].flat())
      .filter((a) => a !== 'dynamodb:GetItem');
    expect(idempotencyWrites).toEqual([]);
  });

  it("lets the aging collector write only its own round keys of the idempotency table, never a claim's", () => {
    const conditioned = Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as { Action: unknown; Condition?: unknown }[])
        .filter((s) => JSON.stringify(s.Action).includes('dynamodb:') && s.Condition !== undefined)
        .map((s) => ({ role: id.replace(/FunctionRole.*$/, ''), statement: s })),
    );
    expect(conditioned.map((c) => c.role)).toEqual(['CoordinatorAgingCollector']);
    const [grant] = conditioned;
    expect(grant?.statement).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['aging-collection#*'] } },
    });
    expect(isCollectorRoundGrant(grant?.statement ?? {})).toBe(true);
  });

  it('collects aging on a schedule, publishing only to its own CloudWatch namespace', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AgingCollectorFunction'), 'Arn'] },
        }),
      ],
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'cloudwatch:PutMetricData',
            Condition: { StringEquals: { 'cloudwatch:namespace': 'Rejuv/Aging' } },
            Effect: 'Allow',
            Resource: '*',
          },
        ]),
      },
    });
  });

  it('lets no function delete, scan, batch-write or rewrite audit records', () => {
    // The sealer alone enumerates the audit chains (Scan); it is denied writes like the steps. The host
    // sync and the aging predictor scan the hosts table only (their grants, checked with the others above
    // and below).
    expect(TABLE_GRANTS.HostSync.hosts).toContain('Scan');
    expect(TABLE_GRANTS.HostSync.audit).not.toContain('Scan');
    // The aging collector lists the registry, and reads nothing else by Scan.
    expect(TABLE_GRANTS.AgingCollector).toEqual({ hosts: ['Scan'] });
    expect(TABLE_GRANTS.AgingPredictor).toEqual({ hosts: ['Scan'], idempotency: ['GetItem', 'PutItem'] });
    const allows = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(
        ([id]) =>
          !id.includes('SealFunctionRole') &&
          !id.includes('HostSyncFunctionRole') &&
          !id.includes('AgingCollectorFunctionRole') &&
          !id.includes('AgingPredictorFunctionRole'),
      )
      .map(([, p]) => p)
      .flatMap((p) =>
        (p.Properties.PolicyDocument.Statement as { Effect: string }[]).filter((s) => s.Effect === 'Allow'),
      );
    // The operator API deletes and scans host items (deregister, sync), on the hosts table only.
    expect(TABLE_GRANTS.OperatorApi.hosts).toEqual(expect.arrayContaining(['DeleteItem', 'Scan']));
    const onHostsByOperatorApi = (s: unknown) =>
      JSON.stringify(s).includes('HostsTable') &&
      allows.indexOf(s as { Effect: string }) >= 0 &&
      Object.entries(template.findResources('AWS::IAM::Policy')).some(
        ([id, p]) =>
          id.includes('OperatorApiFunctionRole') &&
          (p.Properties.PolicyDocument.Statement as unknown[]).includes(s),
      );
    const text = JSON.stringify(allows.filter((s) => !onHostsByOperatorApi(s)));
    for (const action of ['DeleteItem', 'Scan', 'BatchWriteItem', 'GetRecords', 'DescribeTable'])
      expect(text).not.toContain(`dynamodb:${action}`);
    for (const [fnId, grant] of Object.entries(TABLE_GRANTS))
      expect({
        fnId,
        audit: grant.audit?.filter((a) => a !== 'GetItem' && a !== 'PutItem' && a !== 'Query'),
      }).toEqual({
        fnId,
        audit: grant.audit === undefined ? undefined : [],
      });
  });

  it('syncs hosts from SSM on a schedule, reading instance tags only on managed instances', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('HostSyncFunction'), 'Arn'] } }),
      ],
    });
    const [policy] = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('HostSyncFunction'))
      .map(([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]);
    const tagReads = (policy ?? []).filter((st) => st.Action === 'ssm:ListTagsForResource');
    expect(tagReads).toHaveLength(1);
    expect(JSON.stringify(tagReads[0]?.Resource)).toMatch(/:managed-instance\/\*"/);
  });

  it('predicts aging on a schedule, reading metrics and starting executions, with its settings checked', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(6 hours)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AgingPredictorFunction'), 'Arn'] },
        }),
      ],
    });
    const [statements] = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('AgingPredictorFunction'))
      .map(([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]);
    const actions = (statements ?? []).flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(
      expect.arrayContaining(['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics', 'states:StartExecution']),
    );
    expect(actions.filter((a) => String(a).startsWith('cloudwatch:'))).toHaveLength(2);
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) =>
      JSON.stringify(f).includes('rejuv trigger AgingPredictor'),
    );
    const settings = JSON.parse(fn?.Properties.Environment.Variables.REJUV_PREDICTION as string);
    expect(settings).toMatchObject({ config: { horizonMs: 14 * 86_400_000 }, periodSeconds: 7200 });
    expect(
      () =>
        new RejuvenationCoordinator(new Stack(new App()), 'Bad', {
          prediction: { period: Duration.days(2) },
        }),
    ).toThrow(/fewer periods than minPoints/);
  });

  it('reads periods under a minute only from a collector that publishes high-resolution metrics', () => {
    const prediction = {
      period: Duration.seconds(1),
      window: Duration.seconds(70),
      minPoints: 10,
      processWarmup: Duration.seconds(10),
      resources: ['qemuRss'] as const,
    };
    expect(
      () =>
        new RejuvenationCoordinator(new Stack(new App()), 'Bad', {
          prediction,
        }),
    ).toThrow(/prediction.period under a minute \(1 s\) needs agingCollection.highResolution/);
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    new RejuvenationCoordinator(stack, 'Fast', { agingCollection: { highResolution: true }, prediction });
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    const env = (name: string) =>
      functions.find((f) => String(f.Properties.Description).includes(name))?.Properties.Environment
        .Variables as Record<string, unknown>;
    expect(JSON.stringify(env('AgingCollector')['REJUV_AGING_COLLECTION'])).toContain(
      '\\"storageResolutionSeconds\\":1',
    );
    expect(JSON.parse(env('AgingPredictor')['REJUV_PREDICTION'] as string)).toMatchObject({
      periodSeconds: 1,
      resources: ['qemuRss'],
      // The span a window's points must cover scales with the window (5 of 7 days by default): a span as
      // long as the window itself is never reached by points that lie inside it.
      config: { windowMs: 70_000, minPoints: 10, processWarmupMs: 10_000, minSpanMs: 50_000 },
    });
    const standard = JSON.stringify(
      Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
        String(f.Properties.Description).includes('AgingCollector'),
      )?.Properties.Environment.Variables.REJUV_AGING_COLLECTION,
    );
    expect(standard).toContain('\\"storageResolutionSeconds\\":60');
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

  describe('dead-lettered trigger events', () => {
    const queueArn = () => ({ 'Fn::GetAtt': [logicalIdOf('AWS::SQS::Queue', /DeadLetters/), 'Arn'] });
    const logicalIdOf = (type: string, pattern: RegExp): string => {
      const ids = Object.keys(template.findResources(type)).filter((id) => pattern.test(id));
      expect(ids, `${type} matching ${pattern}`).toHaveLength(1);
      return ids[0] as string;
    };

    it('keeps them 14 days in a queue encrypted at rest that refuses plain HTTP', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalIdOf('AWS::SQS::Queue', /DeadLetters/) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it.each([
      ['AgingAlarmRule', 'AlarmTriggerFunction'],
      ['ExecutionEndedRule', 'ReapFunction'],
    ])('%s retries its target %s, then dead-letters the event', (rule, fn) => {
      const ruleId = logicalIdOf('AWS::Events::Rule', new RegExp(rule));
      const fnId = logicalIdOf('AWS::Lambda::Function', new RegExp(`${fn}[0-9A-F]{8}$`));
      expect(template.findResources('AWS::Events::Rule')[ruleId]?.Properties.Targets).toEqual([
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
          DeadLetterConfig: { Arn: queueArn() },
        }),
      ]);
      // Only this rule, through EventBridge, may send to the queue (besides the functions' own roles).
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
            }),
          ]),
        },
      });
      // EventBridge hands the event to Lambda's asynchronous queue; a handler that keeps failing
      // there is retried by Lambda and then sent to the same queue.
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId },
        MaximumRetryAttempts: 2,
        // The alarm trigger refuses state changes older than the two queues hold (alarm-delivery.ts).
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: queueArn() } },
      });
    });

    it('lets no other principal than EventBridge send to the queue through its policy', () => {
      const [policy] = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
      const allows = (policy?.Properties.PolicyDocument.Statement as Record<string, unknown>[]).filter(
        (s) => s['Effect'] === 'Allow',
      );
      expect(allows).toHaveLength(2);
      for (const s of allows) expect(s['Principal']).toEqual({ Service: 'events.amazonaws.com' });
    });

    it('alarms on the notification topic as soon as one message is in the queue', () => {
      const topicId = logicalIdOf('AWS::SNS::Topic', /Notifications/);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalIdOf('AWS::SQS::Queue', /DeadLetters/), 'QueueName'] },
          },
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topicId }],
      });
    });

    it('lets that alarm publish to the encrypted topic: topic policy and a key policy CloudWatch can use', () => {
      const alarmId = logicalIdOf('AWS::CloudWatch::Alarm', /DeadLettersAlarm/);
      const keyId = logicalIdOf('AWS::KMS::Key', /NotificationsKey/);
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [alarmId, 'Arn'] } } },
            }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            }),
          ]),
        },
      });
    });

    it('notifies a topic given in the props, and creates neither a topic nor a key then', () => {
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Given');
      new RejuvenationCoordinator(stack, 'Coordinator', {
        notificationTopic: Topic.fromTopicArn(stack, 'Ops', 'arn:aws:sns:eu-west-1:123456789012:ops'),
      });
      const given = Template.fromStack(stack);
      given.resourceCountIs('AWS::SNS::Topic', 0);
      // The only key left is the audit digests' signing key.
      given.resourcePropertiesCountIs('AWS::KMS::Key', { KeyUsage: Match.absent() }, 0);
      given.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:ops'],
      });
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
    [
      { pendingRequests: { maxAge: Duration.seconds(30) } },
      /pendingRequests.maxAge must be 1 min to 90 days, got 30 s/,
    ],
    [
      { pendingRequests: { drainInterval: Duration.days(2) } },
      /pendingRequests.drainInterval must be 1 min to 24 h, got 172800 s/,
    ],
    [
      {
        policy: {
          pools: {
            web: { windows: [{ days: ['sat' as const], start: '25:00', end: '05:00', timeZone: 'UTC' }] },
          },
        },
      },
      /policy: pools\.web\.windows\.0\.start: a time of day as HH:MM/,
    ],
    [
      { policy: { pools: {}, breakGlassPrincipals: ['alice'] } },
      /policy: breakGlassPrincipals\.0: an IAM user or role ARN/,
    ],
    [
      {
        policy: {
          pools: Object.fromEntries(
            Array.from({ length: 60 }, (_, i) => [
              `pool-${i}`,
              { blockerAlarmPatterns: ['some-long-alarm-name-*'] },
            ]),
          ),
        },
      },
      /policy: its JSON is \d+ bytes, over the 2048/,
    ],
  ])('refuses bad props at synth time: %j', (props, message) => {
    const stack = new Stack(new App(), 'Bad');
    expect(() => new RejuvenationCoordinator(stack, 'C', props)).toThrow(message);
  });

  it('hands the policy to Admit, CampaignPlan and the operator API only, and lets those read alarm states', () => {
    const policy = {
      pools: { web: { cooldownMinutes: 60, blockerAlarmPatterns: ['web-5xx-*'] } },
      breakGlassPrincipals: ['arn:aws:iam::123456789012:role/OnCall'],
    };
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new RejuvStack(app, 'Rejuv', { coordinator: { policy } });
    const withPolicy = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
      .filter((f) => f.Properties.Environment?.Variables?.REJUV_POLICY !== undefined)
      .map((f) => {
        // Packed to fit Lambda's 4 KB of environment; the function reads it back as it was given.
        const env = f.Properties.Environment.Variables as NodeJS.ProcessEnv;
        expect(jsonEnvironmentVariable(env, 'REJUV_POLICY', z.unknown(), 'test')).toEqual(policy);
        return String(f.Properties.Description);
      });
    expect(withPolicy.sort()).toEqual([
      'rejuv campaign step CampaignPlan',
      'rejuv trigger OperatorApi',
      'rejuv workflow step Admit',
    ]);
    for (const fn of ['AdmitFunction', 'CampaignPlanFunction']) {
      const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
        .filter(([id]) => id.includes(fn))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown }[]);
      expect(
        statements.flatMap((st) => [st.Action].flat()),
        fn,
      ).toContain('cloudwatch:DescribeAlarms');
    }
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

/** The collector's grant on the idempotency table: limited to its own keys by dynamodb:LeadingKeys. */
function isCollectorRoundGrant(statement: { Condition?: unknown }): boolean {
  return (
    JSON.stringify(statement.Condition) ===
    JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['aging-collection#*'] } })
  );
}
