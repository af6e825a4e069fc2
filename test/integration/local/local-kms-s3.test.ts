import { GetPublicKeyCommand, SignCommand } from '@aws-sdk/client-kms';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsDigestSigner } from '../../../shared/adapters/kms/kms-digest-signer.js';
import { S3DigestStore } from '../../../shared/adapters/s3/s3-digest-store.js';
import { digestKey } from '../../../shared/domain/audit-digest.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { LocalIam } from '../../../local/iam/local-iam.js';
import { localKmsClient, startLocalKmsEndpoint, type RunningLocalKms } from '../../../local/kms-endpoint.js';
import { localS3Client, startLocalS3Endpoint, type RunningLocalS3 } from '../../../local/s3-endpoint.js';

const ARNS = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };
const BUCKET = 'digests';
const DAY = 86_400_000;
const clock = new ManualClock(Date.UTC(2026, 10, 1));
const iam = new LocalIam(ARNS.accountId);
let kms: RunningLocalKms;
let s3: RunningLocalS3;
let key: { keyId: string; arn: string };
let admin: S3Client;

beforeAll(async () => {
  kms = await startLocalKmsEndpoint({ arns: ARNS, authorizer: iam });
  s3 = await startLocalS3Endpoint({ authorizer: iam, clock });
  s3.createBucket(BUCKET, { defaultRetention: { mode: 'COMPLIANCE', days: 30 } });
  key = kms.createSigningKey('seal-key');
  admin = localS3Client(s3.endpoint);
});

afterAll(async () => {
  admin.destroy();
  await kms.stop();
  await s3.stop();
});

describe('Local KMS', () => {
  it('signs with a real RSA key that the public key from GetPublicKey verifies, offline', async () => {
    const signer = new KmsDigestSigner(localKmsClient(kms.endpoint), key.arn);
    const message = Buffer.from('x'.repeat(10_000)); // past KMS's 4 KiB message limit: sent as a digest
    const signature = await signer.sign(message);
    expect(verify('sha256', message, await signer.publicKeyPem(), signature)).toBe(true);
    expect(verify('sha256', Buffer.from('y'), await signer.publicKeyPem(), signature)).toBe(false);
  });

  it('refuses a raw message over 4 KiB and an unknown key, with KMS error codes', async () => {
    const client = localKmsClient(kms.endpoint);
    const sign = (KeyId: string, Message: Uint8Array) =>
      client.send(new SignCommand({ KeyId, Message, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
    await expect(sign(key.keyId, Buffer.alloc(4097))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(sign('no-such-key', Buffer.from('m'))).rejects.toMatchObject({ name: 'NotFoundException' });
  });

  it("authorizes against the caller's policies: a role allowed kms:Sign may not read the public key", async () => {
    const signer = iam.assumeRole('Sealer', 's', [
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Sign', Resource: key.arn }] },
    ]);
    const client = localKmsClient(kms.endpoint, signer);
    await client.send(
      new SignCommand({
        KeyId: key.arn,
        Message: Buffer.from('m'),
        SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      }),
    );
    await expect(client.send(new GetPublicKeyCommand({ KeyId: key.arn }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });
});

describe('Local S3 with Object Lock', () => {
  it('refuses to delete or replace a locked digest until its retention ends', async () => {
    const store = new S3DigestStore(admin, BUCKET);
    const digest = { key: digestKey(1), body: '{"seq":1}', signature: Buffer.from('sig') };
    await store.putNew(digest, new Date(clock.nowMs() + 10 * DAY));
    await expect(
      store.putNew({ ...digest, body: '{"seq":1,"forged":true}' }, new Date(clock.nowMs() + DAY)),
    ).rejects.toMatchObject({ name: 'DigestSequenceTakenError' });

    const stored = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: digest.key }));
    expect(stored.ObjectLockMode).toBe('COMPLIANCE');
    const versionId = stored.VersionId;
    const deleteVersion = () =>
      admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: digest.key, VersionId: versionId }));
    // Even the administrator, even asking to bypass governance retention.
    await expect(deleteVersion()).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(
      admin.send(
        new DeleteObjectCommand({
          Bucket: BUCKET,
          Key: digest.key,
          VersionId: versionId,
          BypassGovernanceRetention: true,
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });

    // An unconditional PUT adds a version; the locked one stays, readable by its id.
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: digest.key, Body: 'overwritten' }));
    const original = await admin.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: digest.key, VersionId: versionId }),
    );
    expect(await original.Body?.transformToString()).toBe('{"seq":1}');
    expect((await store.latest())?.body).toBe('overwritten');

    clock.advance(11 * DAY);
    await deleteVersion();
    await expect(
      admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: digest.key, VersionId: versionId })),
    ).rejects.toMatchObject({ name: 'NoSuchVersion' });
  });

  it('hides a deleted key behind a marker, lists digests in order, and applies the default retention', async () => {
    const store = new S3DigestStore(admin, BUCKET);
    for (const seq of [3, 2])
      await store.putNew(
        { key: digestKey(seq), body: `{"seq":${seq}}`, signature: Buffer.from('s') },
        new Date(clock.nowMs() + DAY),
      );
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: digestKey(4), Body: '{"seq":4}' }));
    const defaulted = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: digestKey(4) }));
    expect(defaulted.ObjectLockRetainUntilDate?.getTime()).toBe(clock.nowMs() + 30 * DAY);
    await admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: digestKey(3) }));
    const keys: string[] = [];
    for await (const d of store.list()) keys.push(d.key);
    // Digest 1 of the test before keeps its newer, unlocked version.
    expect(keys).toEqual([digestKey(1), digestKey(2), digestKey(4)]);
  });

  it("authorizes against the caller's policies: a role allowed to put digests may not delete them", async () => {
    const sealer = iam.assumeRole('Sealer', 's3', [
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:PutObjectRetention'],
            Resource: `arn:aws:s3:::${BUCKET}/audit-digests/*`,
          },
        ],
      },
    ]);
    const client = localS3Client(s3.endpoint, sealer);
    await new S3DigestStore(client, BUCKET).putNew(
      { key: digestKey(9), body: '{}', signature: Buffer.from('s') },
      new Date(clock.nowMs() + DAY),
    );
    await expect(
      client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: digestKey(9) })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    await expect(new S3DigestStore(client, BUCKET).latest()).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('evaluates the bucket policy too: its deny of digest deletes holds against a role IAM lets delete', async () => {
    const guarded = 'guarded-digests';
    const digests = `arn:aws:s3:::${guarded}/audit-digests/*`;
    s3.createBucket(guarded, {
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyDigestDeletes',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
            Resource: digests,
          },
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: [`arn:aws:s3:::${guarded}`, `arn:aws:s3:::${guarded}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
    const insider = iam.assumeRole('Insider', 's3', [
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:DeleteObject'],
            Resource: 'arn:aws:s3:::*/audit-digests/*',
          },
        ],
      },
    ]);
    const client = localS3Client(s3.endpoint, insider);
    await client.send(new PutObjectCommand({ Bucket: guarded, Key: digestKey(1), Body: '{}' }));
    await expect(
      client.send(new DeleteObjectCommand({ Bucket: guarded, Key: digestKey(1) })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('with an explicit deny in a resource-based policy'),
    });
    // The same role deletes freely in a bucket without that policy: the bucket policy is what refused.
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'audit-digests/x.json', Body: '{}' }));
    await expect(
      client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'audit-digests/x.json' })),
    ).resolves.toMatchObject({ DeleteMarker: true });
  });
});
