/**
 * A function's resource policy built from a synthesized template: what `grantInvokeUrl` writes for a
 * principal outside the stack (the two permissions a function URL needs) and a service's permission,
 * evaluated by local IAM as Lambda would.
 */
import { App, Stack } from 'aws-cdk-lib';
import { ArnPrincipal, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Code, Function as LambdaFunction, FunctionUrlAuthType, Runtime } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalIam } from '../../../local/iam/local-iam.js';
import { functionUrlRequests } from '../../../local/iam/service-requests.js';
import type { Template } from '../../../local/step-functions/synthesized-workflow.js';
import { functionResourcePolicy } from '../../../local/template-function-policy.js';
import { localResourceNames } from '../../../local/template-values.js';

const ACCOUNT = '000000000000';
const alice = `arn:aws:iam::${ACCOUNT}:user/alice`;

let template: Template;
let operatorId: string;
let otherId: string;

beforeAll(() => {
  const app = new App();
  const stack = new Stack(app, 'Policies', { env: { account: ACCOUNT, region: 'local' } });
  const fn = (id: string) =>
    new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({})'),
    });
  const operator = fn('OperatorApi');
  operator.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
  operator.grantInvokeUrl(new ArnPrincipal(alice));
  operator.grantInvoke(new ServicePrincipal('events.amazonaws.com'));
  fn('Other').grantInvokeUrl(new ArnPrincipal(`arn:aws:iam::${ACCOUNT}:user/bob`));
  template = app.synth().getStackByName('Policies').template as Template;
  const idOf = (prefix: string) =>
    Object.keys(template.Resources).find(
      (id) => id.startsWith(prefix) && template.Resources[id]?.Type === 'AWS::Lambda::Function',
    ) ?? '';
  operatorId = idOf('OperatorApi');
  otherId = idOf('Other');
});

describe('functionResourcePolicy', () => {
  it('writes grantInvokeUrl as the two statements a function URL needs, with their condition keys', () => {
    const names = localResourceNames(template, {});
    const policy = functionResourcePolicy(template, operatorId, names);
    const arn = names.get(operatorId)?.arn;
    expect(policy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { AWS: alice },
          Action: 'lambda:InvokeFunctionUrl',
          Resource: arn,
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        }),
        expect.objectContaining({
          Principal: { AWS: alice },
          Action: 'lambda:InvokeFunction',
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
        }),
        expect.objectContaining({ Principal: { Service: 'events.amazonaws.com' } }),
      ]),
    );
  });

  it('holds only the permissions that name this function', () => {
    const policy = functionResourcePolicy(template, operatorId, localResourceNames(template, {}));
    expect(JSON.stringify(policy)).not.toContain('user/bob');
    expect(policy.Statement).toHaveLength(3);
  });

  it('refuses a logical id that is not a function', () => {
    expect(() => functionResourcePolicy(template, 'Nope', localResourceNames(template, {}))).toThrow(
      /not a function/,
    );
  });

  it('lets local IAM allow the named user through the function URL, and no one else', async () => {
    const names = localResourceNames(template, {});
    const arn = names.get(operatorId)?.arn ?? '';
    const policy = functionResourcePolicy(template, operatorId, names);
    const iam = new LocalIam(ACCOUNT);
    const a = iam.createUser('alice', []);
    const b = iam.createUser('bob', []);
    await expect(iam.authorize(a.accessKeyId, functionUrlRequests(arn, policy))).resolves.toEqual({
      outcome: 'allowed',
    });
    // bob is named by the other function's policy only.
    await expect(iam.authorize(b.accessKeyId, functionUrlRequests(arn, policy))).resolves.toMatchObject({
      outcome: 'denied',
    });
    const otherArn = names.get(otherId)?.arn ?? '';
    const otherPolicy = functionResourcePolicy(template, otherId, names);
    await expect(iam.authorize(b.accessKeyId, functionUrlRequests(otherArn, otherPolicy))).resolves.toEqual({
      outcome: 'allowed',
    });
  });
});
