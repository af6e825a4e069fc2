import { App, Errors } from 'aws-cdk-lib';
import { gunzipSync } from 'node:zlib';
import { PACKED_JSON_PREFIX } from '../../../lambdas/runtime/json-environment.js';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, ArnPrincipal, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_GRANTS_ENV } from '../../../lambdas/runtime/operator-grants-config.js';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import { DIGEST_PREFIX } from '../../../shared/domain/audit-digest.js';
import { OperatorGrantsSchema } from '../../../shared/operator/operator-grants.js';

const PLATFORM = 'arn:aws:iam::123456789012:role/Platform';

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** One stack, its coordinator's users granted as a deployment would: synthesized once, without bundling. */
let template: Template;
let ids: { web: string; viewer: string; auditor: string };
let stack: RejuvStack;
beforeAll(() => {
  stack = new RejuvStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Rejuv', {
    coordinator: { operators: [{ principals: ['arn:aws:iam::123456789012:role/Admins'], pools: ['*'] }] },
  });
  const role = (id: string) => new Role(stack, id, { assumedBy: new AccountRootPrincipal() });
  const web = role('WebOnCall');
  const viewer = role('Viewer');
  const auditor = role('Auditor');
  stack.coordinator.grantOperate(web, 'web');
  stack.coordinator.grantOperate(new ArnPrincipal(PLATFORM));
  stack.coordinator.grantRead(viewer);
  stack.coordinator.grantVerifyAudit(auditor);
  const logicalId = (r: Role) => stack.getLogicalId(r.node.defaultChild as never);
  ids = { web: logicalId(web), viewer: logicalId(viewer), auditor: logicalId(auditor) };
  template = Template.fromStack(stack);
}, 180_000);

/** Every statement of the policies attached to a role. */
function statementsOf(roleLogicalId: string): Statement[] {
  return Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleLogicalId }] } }),
  ).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

function actionsOf(statements: readonly Statement[]): string[] {
  return statements.flatMap((s) => [s.Action].flat());
}

function logicalIdOf(type: string, pattern: RegExp): string {
  const matching = Object.keys(template.findResources(type)).filter((id) => pattern.test(id));
  expect(matching, `${type} matching ${pattern}`).toHaveLength(1);
  return matching[0] as string;
}

/** The operator grants as the operator API will read them, a role's ARN resolved as CloudFormation would. */
function operatorGrants(): unknown {
  const [fn] = Object.values(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Description: 'rejuv trigger OperatorApi' },
    }),
  );
  const value = fn?.Properties.Environment.Variables[OPERATOR_GRANTS_ENV] as
    string | { 'Fn::Join': [string, unknown[]] };
  const json =
    typeof value === 'string'
      ? value
      : value['Fn::Join'][1]
          .map((part) => {
            if (typeof part === 'string') return part;
            const [roleId] = (part as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
            return `arn:aws:iam::123456789012:role/${roleId}`;
          })
          .join('');
  return OperatorGrantsSchema.parse(JSON.parse(json));
}

describe('Construct: RejuvenationCoordinator › grants', () => {
  describe('Method: grantOperate', () => {
    it('adds an operator grant the API reads, after those of the operators prop, on the pool or on every pool', () => {
      expect(operatorGrants()).toEqual([
        { principals: ['arn:aws:iam::123456789012:role/Admins'], pools: ['*'] },
        { principals: [`arn:aws:iam::123456789012:role/${ids.web}`], pools: ['web'] },
        { principals: [PLATFORM], pools: ['*'] },
      ]);
    });

    it("lets a role of the app call the function URL through its own policy, and nothing else of the coordinator's", () => {
      const statements = statementsOf(ids.web);
      const fnId = logicalIdOf('AWS::Lambda::Function', /OperatorApiFunction[0-9A-F]{8}$/);
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'lambda:InvokeFunctionUrl',
          Resource: { 'Fn::GetAtt': [fnId, 'Arn'] },
        }),
      );
      expect(actionsOf(statements).every((a) => a.startsWith('lambda:Invoke'))).toBe(true);
    });

    it('lets a principal known by its ARN call the URL through the function resource policy', () => {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunctionUrl',
        Principal: PLATFORM,
        FunctionUrlAuthType: 'AWS_IAM',
      });
    });

    it.each([
      [
        'a service principal',
        () => new ServicePrincipal('lambda.amazonaws.com'),
        'web',
        /not an IAM user or role/,
      ],
      [
        'a root ARN',
        () => new ArnPrincipal('arn:aws:iam::123456789012:root'),
        'web',
        /an IAM user or role ARN/,
      ],
      ['the account', () => new AccountRootPrincipal(), 'web', /not an IAM user or role/],
      [
        'a bad pool id',
        () => new ArnPrincipal(PLATFORM),
        'bad pool',
        /pool "bad pool" is not a pool id or '\*'/,
      ],
    ])(
      'refuses %s with a ValidationError, granting nothing',
      (_what, principal, pool, message) => {
        const other = new RejuvStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Other');
        let thrown: unknown;
        try {
          other.coordinator.grantOperate(principal(), pool);
        } catch (error) {
          thrown = error;
        }
        expect(Errors.isValidationError(thrown)).toBe(true);
        expect((thrown as Error).message).toMatch(message);
        expect(
          Template.fromStack(other).findResources('AWS::Lambda::Permission', {
            Properties: { Action: 'lambda:InvokeFunctionUrl' },
          }),
        ).toEqual({});
      },
      60_000,
    );
  });

  describe('Method: grantRead', () => {
    it("reads every table's items, both machines' executions, and the stack's outputs; writes nothing", () => {
      const statements = statementsOf(ids.viewer);
      for (const table of ['Audit', 'Campaigns', 'Hosts', 'Idempotency', 'Leases', 'Pending']) {
        const tableId = logicalIdOf('AWS::DynamoDB::GlobalTable', new RegExp(`Tables${table}Table`));
        const reads = statements.filter((st) =>
          [st.Resource]
            .flat()
            .some((r) => JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] })),
        );
        expect(actionsOf(reads), table).toEqual(
          expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']),
        );
      }
      const actions = actionsOf(statements);
      expect(actions).toEqual(
        expect.arrayContaining([
          'states:DescribeExecution',
          'states:GetExecutionHistory',
          'states:ListExecutions',
          'cloudformation:DescribeStacks',
        ]),
      );
      expect(actions.filter((a) => /Put|Update|Delete|Write|Start|Stop/.test(a))).toEqual([]);
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: 'cloudformation:DescribeStacks',
          Resource: { Ref: 'AWS::StackId' },
        }),
      );
    });
  });

  describe('Method: grantVerifyAudit', () => {
    it('reads the audit table, the digests and their versions, and the signing key; no other table', () => {
      const statements = statementsOf(ids.auditor);
      const auditId = logicalIdOf('AWS::DynamoDB::GlobalTable', /TablesAuditTable/);
      const bucketId = logicalIdOf('AWS::S3::Bucket', /AuditDigestsBucket/);
      const keyId = logicalIdOf('AWS::KMS::Key', /AuditDigestsSigningKey/);
      const policyOfAuditor = (statement: Record<string, unknown>) =>
        template.hasResourceProperties('AWS::IAM::Policy', {
          Roles: [{ Ref: ids.auditor }],
          PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(statement)]) },
        });
      policyOfAuditor({
        Action: Match.arrayWith(['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:Scan']),
        Resource: Match.arrayWith([{ 'Fn::GetAtt': [auditId, 'Arn'] }]),
      });
      // Every version of every digest: s3:GetObject* covers GetObjectVersion, s3:List* ListBucketVersions.
      policyOfAuditor({
        Action: Match.arrayWith(['s3:GetObject*', 's3:List*']),
        Resource: [
          { 'Fn::GetAtt': [bucketId, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${DIGEST_PREFIX}*`]] },
        ],
      });
      policyOfAuditor({
        Action: ['kms:GetPublicKey', 'kms:Verify'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
      const tablesRead = JSON.stringify(
        statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('dynamodb:'))),
      );
      for (const other of ['Campaigns', 'Hosts', 'Idempotency', 'Leases', 'Pending'])
        expect(tablesRead, other).not.toContain(`Tables${other}Table`);
      expect(actionsOf(statements)).not.toContain('kms:Sign');
    });
  });

  it('keeps the template as it was for a stack that grants nothing', () => {
    const plain = new RejuvStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Plain', {
      coordinator: { operators: [{ principals: ['arn:aws:iam::123456789012:role/Admins'], pools: ['*'] }] },
    });
    const [fn] = Object.values(
      Template.fromStack(plain).findResources('AWS::Lambda::Function', {
        Properties: { Description: 'rejuv trigger OperatorApi' },
      }),
    );
    // The configured grants alone, as the construct wrote them before grantOperate existed (packed since,
    // to fit Lambda's 4 KB of environment: cdk/limits/packed-json.ts).
    const value = fn?.Properties.Environment.Variables[OPERATOR_GRANTS_ENV] as string;
    expect(value.startsWith(PACKED_JSON_PREFIX)).toBe(true);
    expect(
      JSON.parse(gunzipSync(Buffer.from(value.slice(PACKED_JSON_PREFIX.length), 'base64')).toString()),
    ).toEqual([{ principals: ['arn:aws:iam::123456789012:role/Admins'], pools: ['*'] }]);
  }, 60_000);
});
