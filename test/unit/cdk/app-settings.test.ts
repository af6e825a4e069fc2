import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toStackProps, type AppSettings } from '../../../cdk/app-settings.js';
import { readAppSettings } from '../../../cdk/read-app-settings.js';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import { ValidationError } from '../../../shared/domain/errors.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TARGET_GROUP = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';

/** Settings read from an in-memory config file `rejuv.config.<ext>` plus context keys. */
function read(file: unknown, context: Record<string, unknown> = {}, ext = 'json'): AppSettings {
  const name = `rejuv.config.${ext}`;
  const text = typeof file === 'string' ? file : JSON.stringify(file);
  return readAppSettings(
    { 'rejuv:config': name, ...context },
    {
      cwd: '/cfg',
      readFile: (path) => {
        if (path !== `/cfg/${name}`) throw new Error(`ENOENT: no such file, open '${path}'`);
        return text;
      },
    },
  );
}

function errorOf(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('Function: readAppSettings', () => {
  it('reads the committed example config file into stack props, converting the log retention', () => {
    const settings = readAppSettings({ 'rejuv:config': 'rejuv.config.example.json' }, { cwd: REPO });
    expect(toStackProps(settings)).toEqual({
      stackName: 'Rejuv',
      env: { account: '123456789012', region: 'eu-west-1' },
      notification: { email: 'ops@example.com' },
      coordinator: {
        pools: { web: { maxHostsInMaintenance: 2 }, db: { maxHostsInMaintenance: 1 } },
        defaultMaxHostsInMaintenance: 1,
        agingAlarmNamePrefix: 'rejuv-aging-',
        hostIdDimension: 'HostId',
        alarmReloadLevel: 'vmm-process',
        targetGroupArns: [TARGET_GROUP],
        managedInstanceTag: { key: 'rejuv:managed', value: 'true' },
        operators: [
          { principals: ['arn:aws:iam::123456789012:role/PlatformOperators'], pools: ['*'] },
          { principals: ['arn:aws:iam::123456789012:role/WebOnCall'], pools: ['web'] },
        ],
        logRetention: RetentionDays.ONE_YEAR,
      },
    });
  });

  it('reads a YAML file the same way', () => {
    const settings = read(
      'pools:\n  web: { maxHostsInMaintenance: 3 }\nnotification: arn:aws:sns:eu-west-1:123456789012:ops\nlogRetentionDays: 30\n',
      {},
      'yaml',
    );
    expect(toStackProps(settings)).toEqual({
      env: {},
      notification: { topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' },
      coordinator: { pools: { web: { maxHostsInMaintenance: 3 } }, logRetention: RetentionDays.ONE_MONTH },
    });
  });

  it('takes no settings at all as the construct defaults, with the CLI account and region', () => {
    expect(toStackProps(readAppSettings({}), { account: '111122223333', region: 'us-east-1' })).toEqual({
      env: { account: '111122223333', region: 'us-east-1' },
      coordinator: {},
    });
  });

  it('lets context keys override the file: structured values read as YAML or JSON, text as it is', () => {
    const settings = read(
      {
        defaultMaxHostsInMaintenance: 1,
        hostIdDimension: 'HostId',
        pools: { web: { maxHostsInMaintenance: 1 } },
      },
      {
        'rejuv:defaultMaxHostsInMaintenance': '4',
        'rejuv:pools': '{"db": {"maxHostsInMaintenance": 2}}',
        'rejuv:hostIdDimension': '123',
        'rejuv:targetGroupArns': `[${TARGET_GROUP}]`,
        // cdk.json context holds JSON values, taken as they are.
        'rejuv:managedInstanceTag': { key: 'team', value: 'virt' },
      },
    );
    expect(settings).toEqual({
      defaultMaxHostsInMaintenance: 4,
      hostIdDimension: '123',
      pools: { db: { maxHostsInMaintenance: 2 } },
      targetGroupArns: [TARGET_GROUP],
      managedInstanceTag: { key: 'team', value: 'virt' },
    });
  });

  it('ignores context keys that are not its own', () => {
    expect(readAppSettings({ '@aws-cdk/core:enableDiffNoFail': true, other: 'x' })).toEqual({});
  });

  it.each([
    [
      { defaultMaxHostsInMaintenance: 0 },
      'defaultMaxHostsInMaintenance (rejuv.config.json): must be an integer from 1 to 100, got 0',
    ],
    [
      { defaultMaxHostsInMaintenance: '2' },
      'defaultMaxHostsInMaintenance (rejuv.config.json): must be a number, got "2"',
    ],
    [
      { pools: { web: { maxHostsInMaintenance: 1.5 } } },
      'pools.web.maxHostsInMaintenance (rejuv.config.json): must be an integer from 1 to 100, got 1.5',
    ],
    [{ pools: { web: {} } }, 'pools.web.maxHostsInMaintenance (rejuv.config.json): is required'],
    [{ pools: [] }, 'pools (rejuv.config.json): must be an object of pool ids, got []'],
    [
      { pools: { 'bad pool': { maxHostsInMaintenance: 1 } } },
      'pools.bad pool (rejuv.config.json): not a pool id: 1-63 chars of A-Z a-z 0-9 . _ -, starting alphanumeric, got "bad pool"',
    ],
    [
      { agingAlarmNamePrefix: '' },
      'agingAlarmNamePrefix (rejuv.config.json): must be 1-200 characters, no control characters, got ""',
    ],
    [
      { hostIdDimension: ':Host' },
      'hostIdDimension (rejuv.config.json): must be a CloudWatch dimension name',
    ],
    [
      { alarmReloadLevel: 'reboot' },
      'alarmReloadLevel (rejuv.config.json): must be one of vmm-process, kernel, got "reboot"',
    ],
    [
      { targetGroupArns: [TARGET_GROUP, 'arn:aws:s3:::bucket'] },
      'targetGroupArns[1] (rejuv.config.json): must be a target group ARN',
    ],
    [
      { targetGroupArns: [TARGET_GROUP, TARGET_GROUP] },
      'targetGroupArns (rejuv.config.json): lists a target group twice',
    ],
    [
      { targetGroupArns: TARGET_GROUP },
      'targetGroupArns (rejuv.config.json): Invalid input: expected array, received string',
    ],
    [
      { notification: 'ops' },
      'notification (rejuv.config.json): must be an email address or the ARN of a standard SNS topic',
    ],
    [
      { notification: 'arn:aws:sns:eu-west-1:123456789012:ops.fifo' },
      'notification (rejuv.config.json): must be an email address',
    ],
    [
      { notification: 'arn:aws:sns:us-east-1:123456789012:ops', env: { region: 'eu-west-1' } },
      'notification (rejuv.config.json): the topic is in us-east-1 but the stack deploys to eu-west-1',
    ],
    [
      { agingCollection: { intervalMinutes: 1 } },
      'agingCollection.intervalMinutes (rejuv.config.json): must be at least 2 minutes, got 1',
    ],
    [
      { agingCollection: { maxErrors: '5 %' } },
      'agingCollection.maxErrors (rejuv.config.json): must be a number from 0, or a percentage from 0% to 100% (SSM MaxErrors), got "5 %"',
    ],
    [
      { logRetentionDays: 10 },
      'logRetentionDays (rejuv.config.json): must be one of the periods CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30,',
    ],
    [
      { logRetentionDays: 9999 },
      'logRetentionDays (rejuv.config.json): must be one of the periods CloudWatch Logs accepts',
    ],
    [
      { managedInstanceTag: { key: 'aws:managed', value: 'true' } },
      'managedInstanceTag.key (rejuv.config.json): must not start with "aws:", got "aws:managed"',
    ],
    [
      { managedInstanceTag: { key: 'rejuv:managed' } },
      'managedInstanceTag.value (rejuv.config.json): is required',
    ],
    [
      { env: { account: '12345' } },
      'env.account (rejuv.config.json): must be a 12-digit AWS account id, got "12345"',
    ],
    [{ stackName: '1rejuv' }, 'stackName (rejuv.config.json): must be a CloudFormation stack name'],
  ])('refuses %j, naming the key path and the value', (file, message) => {
    expect(errorOf(() => read(file)).message).toContain(message);
  });

  it.each([
    [{ pool: { web: { maxHostsInMaintenance: 1 } } }, 'pool (rejuv.config.json): unknown key, got {"web":'],
    [{ pools: { web: { maxHosts: 1 } } }, 'pools.web.maxHosts (rejuv.config.json): unknown key, got 1'],
    [{ env: { zone: 'a' } }, 'env.zone (rejuv.config.json): unknown key, got "a"'],
    [
      { managedInstanceTag: { key: 'k', value: 'v', extra: 1 } },
      'managedInstanceTag.extra (rejuv.config.json): unknown key',
    ],
  ])('refuses unknown keys: %j', (file, message) => {
    expect(errorOf(() => read(file)).message).toContain(message);
  });

  it('names the context key a bad value came from', () => {
    const message = errorOf(() => read({}, { 'rejuv:pools': '{web: {maxHostsInMaintenance: 0}}' })).message;
    expect(message).toContain(
      'pools.web.maxHostsInMaintenance (context rejuv:pools): must be an integer from 1 to 100, got 0',
    );
  });

  it('reports every bad value at once', () => {
    const error = errorOf(() =>
      read({ defaultMaxHostsInMaintenance: 0, alarmReloadLevel: 'x', extra: true }),
    );
    expect(error.issues).toHaveLength(3);
  });

  it.each([
    [{ 'rejuv:pool': '{}' }, 'context key rejuv:pool: not a rejuv setting'],
    [{ 'rejuv:pools': '{web: [' }, 'pools (context rejuv:pools): not valid JSON or YAML'],
    [
      { 'rejuv:config': 'rejuv.config.txt' },
      'rejuv:config: rejuv.config.txt must end in .json, .yaml or .yml',
    ],
    [{ 'rejuv:config': '' }, 'rejuv:config: must be the path of a JSON or YAML file, got ""'],
  ])('refuses bad context %j', (context, message) => {
    expect(errorOf(() => readAppSettings(context, { readFile: () => '{}' })).message).toContain(message);
  });

  it.each([
    ['a missing file', undefined, 'rejuv:config: cannot read missing.json (ENOENT'],
    ['a file that is not JSON', '{"pools": ', 'rejuv:config: missing.json is not valid JSON'],
    ['a file holding a list', '[1]', 'rejuv:config: missing.json must hold an object of settings, got [1]'],
  ])('refuses %s', (_what, text, message) => {
    const readFile = (path: string): string => {
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return text;
    };
    expect(
      errorOf(() => readAppSettings({ 'rejuv:config': 'missing.json' }, { readFile })).message,
    ).toContain(message);
  });
});

describe('Class: RejuvStack, with settings', () => {
  it('subscribes the notification email to its topic and keeps logs as long as asked', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const props = toStackProps(read({ notification: 'ops@example.com', logRetentionDays: 30 }));
    const template = Template.fromStack(new RejuvStack(app, 'Rejuv', props));
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: Match.stringLikeRegexp('Notifications') },
    });
    const retentions = Object.values(template.findResources('AWS::Logs::LogGroup')).map(
      (g) => g.Properties.RetentionInDays as number,
    );
    expect(retentions.length).toBeGreaterThan(1);
    expect(new Set(retentions)).toEqual(new Set([30]));
  }, 60_000);

  it('collects aging on the interval and under the rate controls the settings give, or not at all', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const props = toStackProps(
      read({ agingCollection: { intervalMinutes: 15, maxConcurrency: '25', maxErrors: '0' } }),
    );
    const template = Template.fromStack(new RejuvStack(app, 'Rejuv', props));
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AgingCollectorFunction'), 'Arn'] },
        }),
      ],
    });
    const [collector] = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) =>
      String(f.Properties.Description).includes('AgingCollector'),
    );
    const config = JSON.stringify(collector?.Properties.Environment.Variables.REJUV_AGING_COLLECTION);
    expect(config).toContain('\\"maxConcurrency\\":\\"25\\"');
    expect(config).toContain('\\"maxErrors\\":\\"0\\"');
    expect(config).toContain('\\"deliveryTimeoutSeconds\\":810');

    const off = Template.fromStack(
      new RejuvStack(
        new App({ context: { 'aws:cdk:bundling-stacks': [] } }),
        'Rejuv',
        toStackProps(read({ agingCollection: { enabled: false } })),
      ),
    );
    expect(
      Object.values(off.findResources('AWS::Events::Rule')).filter((r) =>
        JSON.stringify(r.Properties.Targets).includes('AgingCollectorFunction'),
      ),
    ).toEqual([]);
  }, 60_000);

  it('notifies an existing topic instead of creating one', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    const template = Template.fromStack(
      new RejuvStack(app, 'Rejuv', toStackProps(read({ notification: topicArn }))),
    );
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicArn] });
    template.hasOutput('NotificationTopicArn', { Value: topicArn });
  }, 60_000);
});
