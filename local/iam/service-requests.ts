/**
 * What IAM evaluates for one API call of each service rejuv uses: the action(s), the resource ARN(s) and
 * the condition keys the service sets, as the services' authorization references describe them. A call
 * that touches several resources (a DynamoDB transaction, an SSM command to several instances) is
 * authorized only if every one of its requests is.
 */
import { TABLE_DEFINITIONS, TABLE_IDS } from '../../shared/store/table-definitions.js';
import type { PolicyDocument, ServiceRequest } from './local-iam.js';

export interface ArnContext {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}

const arnOf = (c: ArnContext, service: string, resource: string, global = false): string =>
  `arn:${c.partition}:${service}:${global ? '' : c.region}:${c.accountId}:${resource}`;

type Body = Readonly<Record<string, unknown>>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const keysOf = (v: unknown): string[] => (v !== null && typeof v === 'object' ? Object.keys(v) : []);

/**
 * `dynamodb:LeadingKeys` of an item request: its partition key's value, for rejuv's tables (known by the
 * `-<id>` their names end with, tableNamesFor's scheme). A policy can then limit a role to some keys.
 */
function leadingKeys(tableName: string, key: unknown): Readonly<Record<string, readonly string[]>> {
  const id = TABLE_IDS.find((t) => tableName.endsWith(`-${t}`));
  if (id === undefined || key === null || typeof key !== 'object') return {};
  const attribute = (key as Body)[TABLE_DEFINITIONS[id].partitionKey.name] as Body | undefined;
  const value = attribute?.['S'] ?? attribute?.['N'];
  return typeof value === 'string' ? { 'dynamodb:LeadingKeys': [value] } : {};
}

/** DynamoDB: transactions need the item action on each table they touch; batches their own action. */
export function dynamoDbRequests(c: ArnContext, operation: string, body: Body): ServiceRequest[] {
  const table = (name: unknown): string =>
    str(name).startsWith('arn:') ? str(name) : arnOf(c, 'dynamodb', `table/${str(name)}`);
  const action = (op: string) => `dynamodb:${op}`;
  switch (operation) {
    case 'TransactWriteItems': {
      const items = Array.isArray(body['TransactItems']) ? (body['TransactItems'] as Body[]) : [];
      const itemAction: Record<string, string> = {
        Put: 'PutItem',
        Update: 'UpdateItem',
        Delete: 'DeleteItem',
        ConditionCheck: 'ConditionCheckItem',
      };
      return items.flatMap((item) =>
        Object.entries(item)
          .filter(([kind]) => itemAction[kind] !== undefined)
          .map(([kind, spec]) => ({
            action: action(itemAction[kind] ?? kind),
            resource: table((spec as Body)['TableName']),
            context: leadingKeys(
              str((spec as Body)['TableName']),
              (spec as Body)['Key'] ?? (spec as Body)['Item'],
            ),
          })),
      );
    }
    case 'TransactGetItems': {
      const items = Array.isArray(body['TransactItems']) ? (body['TransactItems'] as Body[]) : [];
      return items.map((item) => ({
        action: action('GetItem'),
        resource: table((item['Get'] as Body | undefined)?.['TableName']),
      }));
    }
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return keysOf(body['RequestItems']).map((name) => ({
        action: action(operation),
        resource: table(name),
      }));
    case 'ListTables':
      return [{ action: action(operation), resource: '*' }];
    default: {
      const index = str(body['IndexName']);
      const base = table(body['TableName']);
      const itemKey = body['Key'] ?? body['Item'];
      return [
        {
          action: action(operation),
          resource: index === '' ? base : `${base}/index/${index}`,
          ...(itemKey === undefined ? {} : { context: leadingKeys(str(body['TableName']), itemKey) }),
        },
      ];
    }
  }
}

/** SSM: SendCommand is authorized on the document and on every instance, whose tags are condition keys. */
export function ssmRequests(
  c: ArnContext,
  operation: string,
  body: Body,
  instanceTags: (instanceId: string) => Readonly<Record<string, string>>,
): ServiceRequest[] {
  const action = `ssm:${operation}`;
  const document = (name: unknown): string =>
    str(name).startsWith('arn:') ? str(name) : arnOf(c, 'ssm', `document/${str(name)}`);
  switch (operation) {
    case 'SendCommand': {
      const instances = Array.isArray(body['InstanceIds']) ? body['InstanceIds'].map(str) : [];
      return [
        { action, resource: document(body['DocumentName']) },
        ...instances.map((id) => ({
          action,
          resource: id.startsWith('mi-')
            ? arnOf(c, 'ssm', `managed-instance/${id}`)
            : arnOf(c, 'ec2', `instance/${id}`),
          context: Object.fromEntries(
            Object.entries(instanceTags(id)).map(([k, v]) => [`ssm:resourceTag/${k}`, v]),
          ),
        })),
      ];
    }
    case 'ListTagsForResource': {
      // Managed instances only (the one resource type rejuv reads tags of).
      const id = str(body['ResourceId']);
      return [{ action, resource: arnOf(c, 'ssm', `managed-instance/${id}`) }];
    }
    case 'GetDocument':
    case 'DescribeDocument':
      return [{ action, resource: document(body['Name']) }];
    default:
      // GetCommandInvocation, ListCommands, ListCommandInvocations, CancelCommand,
      // DescribeInstanceInformation: no resource-level permissions.
      return [{ action, resource: '*' }];
  }
}

/** EC2: DescribeTags (the one call rejuv makes) supports no resource-level permissions. */
export function ec2Requests(action: string): ServiceRequest[] {
  return [{ action: `ec2:${action}`, resource: '*' }];
}

/** Step Functions: executions are authorized on their own ARN, starts and lists on the state machine's. */
export function stepFunctionsRequests(operation: string, body: Body): ServiceRequest[] {
  const action = `states:${operation}`;
  switch (operation) {
    // The Service Authorization Reference lists no resource type for these: IAM requires "*".
    case 'SendTaskSuccess':
    case 'SendTaskFailure':
    case 'SendTaskHeartbeat':
      return [{ action, resource: '*' }];
    case 'StartExecution':
    case 'ListExecutions':
    case 'DescribeStateMachine':
      return [{ action, resource: str(body['stateMachineArn']) }];
    case 'DescribeExecution':
    case 'StopExecution':
    case 'GetExecutionHistory':
      return [{ action, resource: str(body['executionArn']) }];
    default:
      return [{ action, resource: '*' }];
  }
}

type QueryParams = Readonly<Record<string, unknown>>;

/** `Name.member.N` lists of the Query protocol, as the parsed parameter tree holds them. */
function members(tree: unknown): string[] {
  const member = (tree as QueryParams | undefined)?.['member'];
  return member !== null && typeof member === 'object' ? Object.values(member).map(str) : [];
}

export function snsRequests(c: ArnContext, action: string, params: QueryParams): ServiceRequest[] {
  const topic = str(params['TopicArn'] ?? params['TargetArn']);
  if (topic !== '') return [{ action: `sns:${action}`, resource: topic }];
  if (action === 'CreateTopic')
    return [{ action: `sns:${action}`, resource: arnOf(c, 'sns', str(params['Name'])) }];
  return [{ action: `sns:${action}`, resource: '*' }];
}

export function elbv2Requests(action: string, params: QueryParams): ServiceRequest[] {
  const iamAction = `elasticloadbalancing:${action}`;
  switch (action) {
    case 'RegisterTargets':
    case 'DeregisterTargets':
      return [{ action: iamAction, resource: str(params['TargetGroupArn']) }];
    case 'AddTags':
    case 'RemoveTags':
      return members(params['ResourceArns']).map((resource) => ({ action: iamAction, resource }));
    default:
      // DescribeTargetHealth, DescribeTags, DescribeTargetGroups: no resource-level permissions.
      return [{ action: iamAction, resource: '*' }];
  }
}

/** Lambda: invoking a function is authorized on its ARN (a qualified ARN for a version or alias). */
export function lambdaInvokeRequest(functionArn: string): ServiceRequest {
  return { action: 'lambda:InvokeFunction', resource: functionArn };
}

/**
 * A Lambda function URL with AuthType AWS_IAM: the caller needs lambda:InvokeFunctionUrl (with the URL's
 * auth type as a condition key) and, for function URLs created since October 2025, lambda:InvokeFunction
 * as well (with lambda:InvokedViaFunctionUrl); each from its identity policies or the function's own policy.
 */
export function functionUrlRequests(functionArn: string, resourcePolicy?: PolicyDocument): ServiceRequest[] {
  const policy = resourcePolicy === undefined ? {} : { resourcePolicy };
  return [
    {
      action: 'lambda:InvokeFunctionUrl',
      resource: functionArn,
      context: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' },
      ...policy,
    },
    {
      action: 'lambda:InvokeFunction',
      resource: functionArn,
      context: { 'lambda:InvokedViaFunctionUrl': 'true' },
      ...policy,
    },
  ];
}

/** KMS: every key operation is authorized on the key's ARN, by IAM and by the key's own policy. */
export function kmsRequests(operation: string, keyArn: string, keyPolicy: PolicyDocument): ServiceRequest[] {
  return [{ action: `kms:${operation}`, resource: keyArn, resourcePolicy: keyPolicy }];
}

/**
 * S3: object operations on `arn:…:s3:::bucket/key`, listing on the bucket; an upload that sets Object Lock
 * retention needs s3:PutObjectRetention as well, and reading or deleting a given version its own action.
 */
export function s3Requests(
  c: Pick<ArnContext, 'partition'>,
  request: {
    readonly method: string;
    readonly bucket: string;
    readonly key: string | undefined;
    readonly versionId: string | undefined;
    readonly setsRetention: boolean;
    /** A listing's prefix: the condition key `s3:prefix`. */
    readonly prefix?: string | undefined;
  },
): ServiceRequest[] {
  const bucketArn = `arn:${c.partition}:s3:::${request.bucket}`;
  if (request.key === undefined || request.key === '')
    return request.method === 'GET'
      ? [{ action: 's3:ListBucket', resource: bucketArn, context: { 's3:prefix': request.prefix ?? '' } }]
      : [{ action: `s3:${request.method}Bucket`, resource: bucketArn }];
  const resource = `${bucketArn}/${request.key}`;
  const versioned = request.versionId !== undefined;
  switch (request.method) {
    case 'PUT':
      return [
        { action: 's3:PutObject', resource },
        ...(request.setsRetention ? [{ action: 's3:PutObjectRetention', resource }] : []),
      ];
    case 'GET':
    case 'HEAD':
      return [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource }];
    case 'DELETE':
      return [{ action: versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource }];
    default:
      return [{ action: `s3:${request.method}`, resource }];
  }
}

/**
 * CloudWatch: metric actions have no resource-level permissions (`*`); PutMetricData carries the
 * `cloudwatch:namespace` condition key, so a policy can limit a publisher to its own namespace. Alarm
 * actions are on the alarm's ARN (`alarm:<name>`): PutMetricAlarm and SetAlarmState on the one they name, DeleteAlarms on each
 * it names, DescribeAlarms on `alarm:*` (it cannot be limited to names).
 */
export function cloudWatchRequests(c: ArnContext, operation: string, body: Body): ServiceRequest[] {
  const action = `cloudwatch:${operation}`;
  const alarm = (name: string) => arnOf(c, 'cloudwatch', `alarm:${name}`);
  switch (operation) {
    case 'PutMetricData':
      return [{ action, resource: '*', context: { 'cloudwatch:namespace': str(body['Namespace']) } }];
    case 'PutMetricAlarm':
    case 'SetAlarmState':
      return [{ action, resource: alarm(str(body['AlarmName'])) }];
    case 'DeleteAlarms': {
      const names = Array.isArray(body['AlarmNames']) ? (body['AlarmNames'] as unknown[]) : [];
      return names.length === 0
        ? [{ action, resource: alarm('*') }]
        : names.map((n) => ({ action, resource: alarm(str(n)) }));
    }
    case 'DescribeAlarms':
      return [{ action, resource: alarm('*') }];
    default:
      return [{ action, resource: '*' }];
  }
}
