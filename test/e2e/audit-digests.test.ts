/**
 * The audit digests in the local twin of the deployment: the sealer's deployed bundle, under its own
 * role, signs with the stack's KMS key and stores in the stack's Object Lock bucket; a step function's role
 * may append to the audit table but IAM refuses it every update and delete.
 */
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsDigestSigner } from '../../shared/adapters/kms/kms-digest-signer.js';
import { S3DigestStore } from '../../shared/adapters/s3/s3-digest-store.js';
import { verifyLiveAuditTrail } from '../../shared/audit/verify-audit-trail.js';
import { digestKey } from '../../shared/domain/audit-digest.js';
import { hostChainId } from '../../shared/domain/audit-record.js';
import { localKmsClient } from '../../local/kms-endpoint.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/local-environment.js';
import { localS3Client } from '../../local/s3-endpoint.js';
import { LOCAL_REGION, synthesizeTemplate } from '../../local/step-functions/synthesized-workflow.js';
import { rolePolicies, templateFunctions } from '../../local/template-roles.js';

let env: LocalEnvironment;

beforeAll(async () => {
  env = await startLocalEnvironment({ tablePrefix: 'audit-digests' });
});

afterAll(async () => {
  await env?.stop();
});

function logicalIdOf(type: string, properties: Record<string, unknown> = {}): string {
  const template = synthesizeTemplate();
  const id = Object.entries(template.Resources).find(
    ([, r]) => r.Type === type && Object.entries(properties).every(([k, v]) => r.Properties?.[k] === v),
  )?.[0];
  if (id === undefined) throw new Error(`no ${type} in the template`);
  return id;
}

describe('Audit digests in local mode', () => {
  it("seals the trail with the sealer's own role, and the trail verifies with the public key", async () => {
    await env.store.audit.append(hostChainId('h-9'), {
      eventId: 'exec-9:Drain:DRAINED',
      at: new Date().toISOString(),
      principal: 'local:test',
      trigger: 'operator',
      step: 'Drain',
      outcome: 'succeeded',
    });
    expect(await env.lambda.invoke('SealFunction', {})).toMatchObject({ sealed: true, seq: 1, records: 1 });
    const keyArn = env.names.get(logicalIdOf('AWS::KMS::Key', { KeyUsage: 'SIGN_VERIFY' }))?.arn;
    expect(keyArn).toBeDefined();
    const digests = new S3DigestStore(
      localS3Client(env.s3.endpoint),
      env.names.get(logicalIdOf('AWS::S3::Bucket'))?.ref ?? '',
    );
    const publicKey = await new KmsDigestSigner(
      localKmsClient(env.kms.endpoint),
      keyArn ?? '',
    ).publicKeyPem();
    const verdict = await verifyLiveAuditTrail(env.store.audit, digests, publicKey, {
      now: new Date(),
      sealIntervalMs: env.auditDigests.sealIntervalSeconds * 1000,
    });
    expect(verdict).toMatchObject({ ok: true, digests: 1 });
    expect(env.iam.refusals()).toEqual([]);
  });

  it("refuses a step function's role every update and delete of an audit item, and lets it append", async () => {
    const template = synthesizeTemplate();
    const advance = templateFunctions(template, env.names).find((f) => f.constructId === 'AdvanceFunction');
    if (advance === undefined) throw new Error('no Advance function in the template');
    const identity = env.iam.assumeRole(
      'AdvanceRole',
      'audit-test',
      rolePolicies(template, env.names).get(advance.roleLogicalId) ?? [],
    );
    const dynamo = new DynamoDBClient({
      endpoint: env.dynamoDbRequests.endpoint,
      region: LOCAL_REGION,
      credentials: identity,
      maxAttempts: 1,
    });
    const TableName = env.tables.audit;
    const Key = { chainId: { S: hostChainId('h-9') }, seq: { N: '1' } };
    const denied = { name: 'AccessDeniedException' };
    await expect(
      dynamo.send(
        new UpdateItemCommand({
          TableName,
          Key,
          UpdateExpression: 'SET outcome = :o',
          ExpressionAttributeValues: { ':o': { S: 'failed' } },
        }),
      ),
    ).rejects.toMatchObject(denied);
    await expect(dynamo.send(new DeleteItemCommand({ TableName, Key }))).rejects.toMatchObject(denied);
    await expect(
      dynamo.send(new TransactWriteItemsCommand({ TransactItems: [{ Delete: { TableName, Key } }] })),
    ).rejects.toMatchObject(denied);
    // An append, a conditional put, is allowed: it fails only on its condition, the record being there.
    await expect(
      dynamo.send(
        new PutItemCommand({
          TableName,
          Item: { ...Key, kind: { S: 'record' } },
          ConditionExpression: 'attribute_not_exists(chainId)',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    dynamo.destroy();
  });

  it("refuses, by the stack's bucket policy, a delete marker over a digest to a role IAM lets delete", async () => {
    const bucket = env.auditDigests.bucketName;
    const insider = env.iam.assumeRole('Insider', 'audit-test', [
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/*` }],
      },
    ]);
    const s3 = localS3Client(env.s3.endpoint, insider);
    await expect(
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: digestKey(1) })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      // The role's only policy allows it: the explicit deny is the bucket policy's.
      message: expect.stringMatching(/s3:DeleteObject .* with an explicit deny in a resource-based policy/),
    });
    s3.destroy();
  });
});
