/**
 * A local KMS (TrentService, JSON protocol 1.1) with real asymmetric keys: RSA_2048 SIGN_VERIFY keys made
 * with node:crypto, whose private half never leaves this process, as it never leaves KMS. The real
 * @aws-sdk/client-kms talks to it unmodified.
 *
 * Emulated: Sign (MessageType RAW up to 4096 bytes, or DIGEST of exactly the algorithm's hash length),
 * GetPublicKey (DER SubjectPublicKeyInfo, as KMS returns it), DescribeKey; key ids given as the key id
 * or the key ARN; KMS's error codes (NotFoundException, ValidationException, InvalidKeyUsageException,
 * KMSInvalidStateException is not: keys are always enabled). Not emulated: symmetric keys, aliases,
 * grants, key policies (IAM identity policies only), other key specs, Verify (the verifier is offline).
 */
import { createHash, generateKeyPairSync, privateEncrypt, randomUUID, type KeyObject } from 'node:crypto';
import { constants } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  AwsServiceError,
  refusedJsonRequest,
  startAwsJsonServer,
  type JsonOperation,
} from './json-protocol/aws-json-server.js';
import type { Authorizer, PolicyDocument } from './iam/local-iam.js';
import { kmsRequests, type ArnContext } from './iam/service-requests.js';

const SIGNING_ALGORITHMS = ['RSASSA_PKCS1_V1_5_SHA_256'] as const;
const RAW_MESSAGE_LIMIT = 4096;
// The DER DigestInfo header of a SHA-256 hash: what RSASSA-PKCS1-v1_5 signs in front of it.
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

interface LocalKey {
  readonly keyId: string;
  readonly arn: string;
  readonly privateKey: KeyObject;
  readonly publicKeyDer: Buffer;
  readonly created: Date;
  readonly keyPolicy: PolicyDocument;
}

export interface LocalKmsOptions {
  readonly arns: ArnContext;
  /** Local IAM: every request is authorized as its signer's policies allow. @default anyone may do anything */
  readonly authorizer?: Authorizer;
}

export interface RunningLocalKms {
  readonly endpoint: string;
  /**
   * Creates an RSA_2048 SIGN_VERIFY key with the given id (e.g. a template's logical id) and key policy.
   * @default policy - KMS's default: the account may grant the key's use with IAM policies
   */
  createSigningKey(keyId?: string, keyPolicy?: PolicyDocument): { keyId: string; arn: string };
  stop(): Promise<void>;
}

export async function startLocalKmsEndpoint(options: LocalKmsOptions): Promise<RunningLocalKms> {
  const keys = new Map<string, LocalKey>();
  const { partition, region, accountId } = options.arns;
  const keyOf = (id: unknown): LocalKey => {
    if (typeof id !== 'string' || id === '')
      throw new AwsServiceError('ValidationException', 'KeyId is required');
    const keyId = id.startsWith('arn:') ? id.split(':key/')[1] : id;
    const key = keyId === undefined ? undefined : keys.get(keyId);
    if (key === undefined || (id.startsWith('arn:') && key.arn !== id))
      throw new AwsServiceError('NotFoundException', `Key '${id}' does not exist`);
    return key;
  };
  const blob = (value: unknown, name: string): Buffer => {
    if (typeof value !== 'string' || value === '')
      throw new AwsServiceError('ValidationException', `${name} is required`);
    return Buffer.from(value, 'base64');
  };
  const checkAlgorithm = (algorithm: unknown, key: LocalKey): void => {
    if (!SIGNING_ALGORITHMS.includes(algorithm as (typeof SIGNING_ALGORITHMS)[number]))
      throw new AwsServiceError(
        'InvalidKeyUsageException',
        `SigningAlgorithm ${String(algorithm)} is not supported by key ${key.arn}`,
      );
  };

  const operations: Record<string, JsonOperation> = {
    Sign: (body) => {
      const key = keyOf(body['KeyId']);
      checkAlgorithm(body['SigningAlgorithm'], key);
      const message = blob(body['Message'], 'Message');
      const type = body['MessageType'] ?? 'RAW';
      let digest: Buffer;
      if (type === 'RAW') {
        if (message.byteLength > RAW_MESSAGE_LIMIT)
          throw new AwsServiceError(
            'ValidationException',
            `1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to ${RAW_MESSAGE_LIMIT}`,
          );
        digest = createHash('sha256').update(message).digest();
      } else if (type === 'DIGEST') {
        if (message.byteLength !== 32)
          throw new AwsServiceError(
            'ValidationException',
            'Digest is invalid length for algorithm RSASSA_PKCS1_V1_5_SHA_256.',
          );
        digest = message;
      } else {
        throw new AwsServiceError('ValidationException', `MessageType ${String(type)} is not RAW or DIGEST`);
      }
      const signature = privateEncrypt(
        { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, digest]),
      );
      return {
        KeyId: key.arn,
        Signature: signature.toString('base64'),
        SigningAlgorithm: body['SigningAlgorithm'],
      };
    },
    GetPublicKey: (body) => {
      const key = keyOf(body['KeyId']);
      return {
        KeyId: key.arn,
        PublicKey: key.publicKeyDer.toString('base64'),
        KeySpec: 'RSA_2048',
        CustomerMasterKeySpec: 'RSA_2048',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: [...SIGNING_ALGORITHMS],
      };
    },
    DescribeKey: (body) => {
      const key = keyOf(body['KeyId']);
      return {
        KeyMetadata: {
          AWSAccountId: accountId,
          KeyId: key.keyId,
          Arn: key.arn,
          CreationDate: key.created.getTime() / 1000,
          Enabled: true,
          KeyState: 'Enabled',
          KeyUsage: 'SIGN_VERIFY',
          KeySpec: 'RSA_2048',
          CustomerMasterKeySpec: 'RSA_2048',
          KeyManager: 'CUSTOMER',
          Origin: 'AWS_KMS',
          SigningAlgorithms: [...SIGNING_ALGORITHMS],
          MultiRegion: false,
        },
      };
    },
  };

  const authorizer = options.authorizer;
  const server = await startAwsJsonServer({
    targetPrefix: 'TrentService',
    jsonVersion: '1.1',
    operations,
    ...(authorizer === undefined
      ? {}
      : {
          authorize: async ({ operation, body, accessKeyId }) => {
            // A key that does not exist is NotFound for anyone; IAM is asked about existing keys only.
            const key = keyOf(body['KeyId']);
            const refused = refusedJsonRequest(
              await authorizer.authorize(accessKeyId, kmsRequests(operation, key.arn, key.keyPolicy)),
            );
            if (refused !== undefined) throw refused;
          },
        }),
  });

  return {
    endpoint: server.endpoint,
    createSigningKey: (keyId = randomUUID(), keyPolicy = defaultKeyPolicy(options.arns)) => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const arn = `arn:${partition}:kms:${region}:${accountId}:key/${keyId}`;
      keys.set(keyId, {
        keyId,
        arn,
        privateKey,
        publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }),
        created: new Date(),
        keyPolicy,
      });
      return { keyId, arn };
    },
    stop: () => server.stop(),
  };
}

/** What KMS gives a key created without a policy: the account's root, so IAM policies decide. */
function defaultKeyPolicy({ partition, accountId }: ArnContext): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

/** A real KMS client pointed at a local endpoint, with an administrator's credentials unless given. */
export function localKmsClient(
  endpoint: string,
  credentials = { accessKeyId: 'local', secretAccessKey: 'local' },
): KMSClient {
  return new KMSClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 2 });
}
