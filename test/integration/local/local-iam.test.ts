/**
 * Local IAM on the wire: the real SDK clients, signed with a role's credentials, are refused by each local
 * endpoint exactly where IAM would refuse them (action, resource ARN, condition keys), with the error
 * each service answers; the administrator and allowed calls go through.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_ACCESS_KEY_ID, LocalIam, type LocalIdentity } from '../../../local/iam/local-iam.js';
import { startRequestCounter, type RunningRequestCounter } from '../../../local/request-counter.js';
import { startLocalSnsEndpoint, type RunningLocalSns } from '../../../local/sns-endpoint.js';
import { startLocalSsmEndpoint, type RunningLocalSsm } from '../../../local/ssm-endpoint/ssm-endpoint.js';
import { freshTables, type TestTables } from '../../support/dynamodb.js';

const ARNS = { partition: 'aws', region: 'local', accountId: '000000000000' };
const arn = (service: string, resource: string) => `arn:aws:${service}:local:000000000000:${resource}`;

let iam: LocalIam;
let t: TestTables;
let front: RunningRequestCounter;
let ssm: RunningLocalSsm;
let sns: RunningLocalSns;
let reader: LocalIdentity;
let sender: LocalIdentity;
let keyed: LocalIdentity;
const clients: { destroy(): void }[] = [];

const credentialsOf = (identity: LocalIdentity) => ({
  accessKeyId: identity.accessKeyId,
  secretAccessKey: identity.secretAccessKey,
  sessionToken: identity.sessionToken,
});

function client<C extends { destroy(): void }>(c: C): C {
  clients.push(c);
  return c;
}

beforeAll(async () => {
  iam = new LocalIam(ARNS.accountId);
  t = await freshTables();
  front = await startRequestCounter(inject('dynamoDbEndpoint'), { authorizer: iam, arns: ARNS });
  ssm = await startLocalSsmEndpoint({
    documents: {
      'rejuv-Noop': {
        schemaVersion: '2.2',
        description: 'does nothing',
        mainSteps: [{ action: 'aws:runShellScript', name: 'noop', inputs: { runCommand: ['true'] } }],
      },
    },
    hosts: {
      'mi-00000000000000a01': {
        hostRoot: mkdtempSync(join(tmpdir(), 'iam-host-')),
        tags: { 'rejuv:managed': 'true' },
      },
      'mi-00000000000000a02': { hostRoot: mkdtempSync(join(tmpdir(), 'iam-host-')) },
    },
    authorizer: iam,
    arns: ARNS,
  });
  sns = await startLocalSnsEndpoint({ region: 'local', accountId: ARNS.accountId, authorizer: iam });
  sns.createTopic('allowed');
  sns.createTopic('other');
  reader = iam.assumeRole('ReaderRole', 'reader-fn', [
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem'],
          Resource: arn('dynamodb', `table/${t.tables.hosts}`),
        },
        { Effect: 'Allow', Action: 'sns:Publish', Resource: arn('sns', 'allowed') },
      ],
    },
  ]);
  keyed = iam.assumeRole('KeyedRole', 'keyed-fn', [
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          Resource: arn('dynamodb', `table/${t.tables.idempotency}`),
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['own#*'] } },
        },
      ],
    },
  ]);
  sender = iam.assumeRole('SenderRole', 'sender-fn', [
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ssm:SendCommand', Resource: arn('ssm', 'document/rejuv-Noop') },
        {
          Effect: 'Allow',
          Action: 'ssm:SendCommand',
          Resource: arn('ssm', 'managed-instance/*'),
          Condition: { StringEquals: { 'ssm:resourceTag/rejuv:managed': 'true' } },
        },
      ],
    },
  ]);
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await Promise.all([front?.stop(), ssm?.stop(), sns?.stop()]);
});

describe('Local IAM: DynamoDB front door', () => {
  const dynamo = (identity: LocalIdentity | 'admin') =>
    client(
      new DynamoDBClient({
        endpoint: front.endpoint,
        region: 'local',
        credentials:
          identity === 'admin'
            ? { accessKeyId: ADMIN_ACCESS_KEY_ID, secretAccessKey: 'local' }
            : credentialsOf(identity),
        maxAttempts: 1,
      }),
    );
  const key = { hostId: { S: 'h-iam' } };

  it('lets a role do what its policy allows, on the table it names', async () => {
    await expect(
      dynamo(reader).send(new GetItemCommand({ TableName: t.tables.hosts, Key: key })),
    ).resolves.toBeDefined();
  });

  it('refuses an action the policy does not grant with AccessDeniedException, and nothing is written', async () => {
    const put = dynamo(reader).send(
      new PutItemCommand({ TableName: t.tables.hosts, Item: { ...key, pool: { S: 'p' } } }),
    );
    await expect(put).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringMatching(
        /assumed-role\/ReaderRole\/reader-fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:local:000000000000:table\//,
      ),
    });
    const item = await dynamo('admin').send(new GetItemCommand({ TableName: t.tables.hosts, Key: key }));
    expect(item.Item).toBeUndefined();
  });

  it('refuses the allowed action on another table', async () => {
    await expect(
      dynamo(reader).send(
        new GetItemCommand({ TableName: t.tables.audit, Key: { chainId: { S: 'x' }, seq: { N: '1' } } }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('sets dynamodb:LeadingKeys: a role limited to its own keys writes them and no other key', async () => {
    await expect(
      dynamo(keyed).send(
        new PutItemCommand({ TableName: t.tables.idempotency, Item: { key: { S: 'own#1' } } }),
      ),
    ).resolves.toBeDefined();
    await expect(
      dynamo(keyed).send(
        new PutItemCommand({ TableName: t.tables.idempotency, Item: { key: { S: 'execution#x' } } }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    const forged = await dynamo('admin').send(
      new GetItemCommand({ TableName: t.tables.idempotency, Key: { key: { S: 'execution#x' } } }),
    );
    expect(forged.Item).toBeUndefined();
  });

  it('authorizes each item of a transaction as its own action: a Put inside TransactWriteItems needs PutItem', async () => {
    const transaction = dynamo(reader).send(
      new TransactWriteItemsCommand({
        TransactItems: [{ Put: { TableName: t.tables.hosts, Item: { ...key, pool: { S: 'p' } } } }],
      }),
    );
    await expect(transaction).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('dynamodb:PutItem'),
    });
  });

  it('does not know a caller with an unknown access key', async () => {
    const stranger = client(
      new DynamoDBClient({
        endpoint: front.endpoint,
        region: 'local',
        credentials: { accessKeyId: 'ASIANOBODY', secretAccessKey: 'x' },
        maxAttempts: 1,
      }),
    );
    await expect(
      stranger.send(new GetItemCommand({ TableName: t.tables.hosts, Key: key })),
    ).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it('records every refusal with who asked', () => {
    expect(iam.refusals()).toContainEqual({
      principalArn: 'arn:aws:sts::000000000000:assumed-role/ReaderRole/reader-fn',
      request: {
        action: 'dynamodb:PutItem',
        resource: arn('dynamodb', `table/${t.tables.hosts}`),
        context: { 'dynamodb:LeadingKeys': ['h-iam'] },
      },
    });
  });
});

describe('Local IAM: SSM SendCommand and its tag condition', () => {
  const ssmClient = (identity: LocalIdentity) =>
    client(
      new SSMClient({
        endpoint: ssm.endpoint,
        region: 'local',
        credentials: credentialsOf(identity),
        maxAttempts: 1,
      }),
    );

  it('sends the allowed document to an instance carrying the managed tag', async () => {
    const sent = await ssmClient(sender).send(
      new SendCommandCommand({ DocumentName: 'rejuv-Noop', InstanceIds: ['mi-00000000000000a01'] }),
    );
    expect(sent.Command?.CommandId).toBeDefined();
  });

  it('refuses an instance without the tag, as the condition on ssm:resourceTag requires', async () => {
    await expect(
      ssmClient(sender).send(
        new SendCommandCommand({ DocumentName: 'rejuv-Noop', InstanceIds: ['mi-00000000000000a02'] }),
      ),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('managed-instance/mi-00000000000000a02'),
    });
  });

  it('authorizes a send by Targets on the document, then each instance: one refused ends AccessDenied, the call stands', async () => {
    const sent = await ssmClient(sender).send(
      new SendCommandCommand({
        DocumentName: 'rejuv-Noop',
        Targets: [{ Key: 'InstanceIds', Values: ['mi-00000000000000a01', 'mi-00000000000000a02'] }],
        MaxErrors: '0',
      }),
    );
    const invocations = ssm.commands().filter((i) => i.commandId === sent.Command?.CommandId);
    expect(invocations.map((i) => [i.instanceId, i.status])).toEqual([
      ['mi-00000000000000a01', expect.stringMatching(/^(Pending|InProgress|Success)$/)],
      ['mi-00000000000000a02', 'Failed'],
    ]);
    const refused = iam
      .refusals()
      .filter((r) => r.request.resource.endsWith('managed-instance/mi-00000000000000a02'));
    expect(refused.length).toBeGreaterThan(0);
  });

  it('refuses a role with no SSM grant at all', async () => {
    await expect(
      ssmClient(reader).send(
        new SendCommandCommand({ DocumentName: 'rejuv-Noop', InstanceIds: ['mi-00000000000000a01'] }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('Local IAM: SNS Publish', () => {
  const snsClient = (identity: LocalIdentity) =>
    client(
      new SNSClient({
        endpoint: sns.endpoint,
        region: 'local',
        credentials: credentialsOf(identity),
        maxAttempts: 1,
      }),
    );

  it('publishes to the topic the policy names and refuses another with AuthorizationError', async () => {
    await expect(
      snsClient(reader).send(new PublishCommand({ TopicArn: arn('sns', 'allowed'), Message: 'm' })),
    ).resolves.toMatchObject({ MessageId: expect.any(String) });
    await expect(
      snsClient(reader).send(new PublishCommand({ TopicArn: arn('sns', 'other'), Message: 'm' })),
    ).rejects.toMatchObject({ name: 'AuthorizationErrorException' });
    expect(sns.published().filter((m) => m.topicArn === arn('sns', 'other'))).toEqual([]);
  });
});

describe('Local IAM: users, and resource policies in the same account', () => {
  const fn = arn('lambda', 'function:Operator');
  const invoke = { action: 'lambda:InvokeFunction', resource: fn };
  const userArn = (name: string) => `arn:aws:iam::000000000000:user/${name}`;
  const resourcePolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: [userArn('named'), 'arn:aws:iam::000000000000:role/NamedRole'] },
        Action: 'lambda:InvokeFunction',
        Resource: fn,
      },
      {
        Effect: 'Deny',
        Principal: { AWS: userArn('denied') },
        Action: 'lambda:InvokeFunction',
        Resource: fn,
      },
    ],
  };
  const allowInvoke = [
    {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: fn }],
    },
  ];

  it('gives a user a long-term AKIA key, no session token, and its user ARN', () => {
    const user = iam.createUser('operator-1', []);
    expect(user).toEqual({
      accessKeyId: expect.stringMatching(/^AKIA[0-9A-F]{16}$/),
      secretAccessKey: expect.any(String),
      principalArn: userArn('operator-1'),
    });
    expect(iam.signingIdentity(user.accessKeyId)).toMatchObject({
      secretAccessKey: user.secretAccessKey,
      sessionToken: undefined,
      userId: expect.stringMatching(/^AIDA/),
    });
  });

  it('refuses a user name IAM would refuse, creating nothing', () => {
    expect(() => iam.createUser('no spaces/allowed', [])).toThrow(/invalid IAM user name/);
  });

  it('allows a same-account user its identity policy allows, with no resource policy', async () => {
    const user = iam.createUser('by-identity', allowInvoke);
    await expect(iam.authorize(user.accessKeyId, [invoke])).resolves.toEqual({ outcome: 'allowed' });
  });

  it('allows a same-account user the resource policy names, with no identity policy at all', async () => {
    const user = iam.createUser('named', []);
    await expect(iam.authorize(user.accessKeyId, [{ ...invoke, resourcePolicy }])).resolves.toEqual({
      outcome: 'allowed',
    });
  });

  it('allows a session of a role the resource policy names', async () => {
    const session = iam.assumeRole('NamedRole', 'ops', []);
    await expect(iam.authorize(session.accessKeyId, [{ ...invoke, resourcePolicy }])).resolves.toEqual({
      outcome: 'allowed',
    });
  });

  it('refuses a user neither policy allows', async () => {
    const user = iam.createUser('stranger', []);
    await expect(iam.authorize(user.accessKeyId, [{ ...invoke, resourcePolicy }])).resolves.toMatchObject({
      outcome: 'denied',
    });
  });

  it('lets an explicit Deny in the resource policy win over an identity policy that allows', async () => {
    const user = iam.createUser('denied', allowInvoke);
    await expect(iam.authorize(user.accessKeyId, [{ ...invoke, resourcePolicy }])).resolves.toMatchObject({
      outcome: 'denied',
      message: expect.stringContaining('explicit deny in a resource-based policy'),
    });
  });

  it('lets an explicit Deny in an identity policy win over a resource policy that allows', async () => {
    const user = iam.createUser('named', [
      { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'lambda:*', Resource: '*' }] },
    ]);
    await expect(iam.authorize(user.accessKeyId, [{ ...invoke, resourcePolicy }])).resolves.toMatchObject({
      outcome: 'denied',
      message: expect.stringContaining('explicit deny in an identity-based policy'),
    });
  });
});
