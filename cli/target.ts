/**
 * Where the CLI's commands go: the local environment that `rejuv local up` holds, or a deployed stack
 * found by its CloudFormation outputs. Either way the commands use the same real SDK clients and the
 * same store adapters as the Lambdas.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createDynamoDbStore, type Store } from '../shared/adapters/dynamodb/dynamodb-store.js';
import { KmsDigestSigner } from '../shared/adapters/kms/kms-digest-signer.js';
import { S3DigestStore } from '../shared/adapters/s3/s3-digest-store.js';
import { DEFAULT_SEAL_INTERVAL_MS } from '../shared/domain/audit-digest-verification.js';
import type { DigestStore } from '../shared/ports/digest-store.js';
import { TABLE_IDS, type TableNames } from '../shared/store/table-definitions.js';
import { CliError, EXIT } from './exit-codes.js';
import { OperatorApiClient } from './operator-api-client.js';
import { signedPost, type CredentialSource } from './signed-request.js';
import type { TargetOptions } from './cli-options.js';
import { runningLocalState } from './local-state.js';

export interface Target {
  /** Said once on stderr, so nobody drives production thinking it is the lab (or the reverse). */
  readonly description: string;
  readonly store: Store;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly auditDigests: AuditDigestsTarget;
  /** Where every action that changes something goes: signed with the caller's credentials. */
  readonly operatorApi: OperatorApiClient;
  close(): void;
}

/** The signed digests of the audit trail: read from the bucket, verified offline with the key's public half. */
export interface AuditDigestsTarget {
  readonly store: DigestStore;
  readonly keyArn: string;
  /**
   * How often the deployed sealer runs: the stack output AuditSealIntervalSeconds, or the construct's
   * default (15 minutes) for a stack deployed before that output existed.
   */
  readonly sealIntervalMs: number;
  /** The signing key's public half (PEM), from KMS GetPublicKey: the only KMS call verification makes. */
  publicKeyPem(): Promise<string>;
}

interface AuditDigestsLocation {
  readonly bucketName: string;
  readonly keyArn: string;
  readonly sealIntervalSeconds?: number | undefined;
}

function auditDigestsTarget(s3: S3Client, kms: KMSClient, where: AuditDigestsLocation): AuditDigestsTarget {
  const signer = new KmsDigestSigner(kms, where.keyArn);
  return {
    store: new S3DigestStore(s3, where.bucketName),
    keyArn: where.keyArn,
    sealIntervalMs:
      where.sealIntervalSeconds === undefined ? DEFAULT_SEAL_INTERVAL_MS : where.sealIntervalSeconds * 1000,
    publicKeyPem: () => signer.publicKeyPem(),
  };
}

export async function connect(options: TargetOptions): Promise<Target> {
  return options.local ? connectLocal() : connectAws(options);
}

function connectLocal(): Target {
  const state = runningLocalState();
  // Few attempts: a local server that does not answer is down, not busy.
  const at = (endpoint: string) => ({
    endpoint,
    region: state.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  });
  const dynamoDb = new DynamoDBClient(at(state.endpoints.dynamodb));
  const sfn = new SFNClient(at(state.endpoints.sfn));
  const kms = new KMSClient(at(state.endpoints.kms));
  const s3 = new S3Client({ ...at(state.endpoints.s3), forcePathStyle: true });
  return {
    description: `local environment (pid ${state.pid})`,
    store: createDynamoDbStore(dynamoDb, state.tables),
    sfn,
    stateMachineArn: state.stateMachineArn,
    auditDigests: auditDigestsTarget(s3, kms, state.auditDigests),
    // The local function URL checks the signature and IAM as AWS does, for the operator `local up` created.
    operatorApi: operatorApiAt(state.operatorApi.url, state.operatorApi.credentials, state.region),
    close: () => {
      dynamoDb.destroy();
      sfn.destroy();
      kms.destroy();
      s3.destroy();
    },
  };
}

/**
 * The outputs RejuvStack declares: the state machine, one `<Id>TableName` per table, the audit digest
 * bucket and signing key.
 */
export function targetFromStackOutputs(
  stack: string,
  outputs: readonly { OutputKey?: string; OutputValue?: string }[],
): {
  stateMachineArn: string;
  tables: TableNames;
  auditDigests: AuditDigestsLocation;
  operatorApiUrl: string;
} {
  const value = (key: string): string => {
    const found = outputs.find((o) => o.OutputKey === key)?.OutputValue;
    if (found === undefined || found === '')
      throw new CliError(`stack ${stack} has no output ${key}; is it a rejuv stack?`, EXIT.notFound);
    return found;
  };
  const tables = Object.fromEntries(
    TABLE_IDS.map((id) => [id, value(`${id.charAt(0).toUpperCase()}${id.slice(1)}TableName`)]),
  ) as unknown as TableNames;
  return {
    stateMachineArn: value('StateMachineArn'),
    operatorApiUrl: value('OperatorApiUrl'),
    tables,
    auditDigests: {
      bucketName: value('AuditDigestBucketName'),
      keyArn: value('AuditDigestKeyArn'),
      sealIntervalSeconds: sealIntervalOutput(stack, outputs),
    },
  };
}

/** Optional: a stack deployed before the output existed runs the construct's default interval. */
function sealIntervalOutput(
  stack: string,
  outputs: readonly { OutputKey?: string; OutputValue?: string }[],
): number | undefined {
  const found = outputs.find((o) => o.OutputKey === 'AuditSealIntervalSeconds')?.OutputValue;
  if (found === undefined) return undefined;
  const seconds = Number(found);
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw new CliError(
      `stack ${stack}: output AuditSealIntervalSeconds is ${JSON.stringify(found)}, not a positive whole number of seconds`,
      EXIT.notFound,
    );
  return seconds;
}

async function connectAws(options: TargetOptions): Promise<Target> {
  const config = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
  const cloudFormation = new CloudFormationClient(config);
  try {
    const described = await cloudFormation
      .send(new DescribeStacksCommand({ StackName: options.stack }))
      .catch((error: unknown) => {
        if (error instanceof Error && error.name === 'ValidationError')
          throw new CliError(`stack ${options.stack} not found (${error.message})`, EXIT.notFound);
        throw unreachable('CloudFormation', error);
      });
    const { stateMachineArn, tables, auditDigests, operatorApiUrl } = targetFromStackOutputs(
      options.stack,
      described.Stacks?.[0]?.Outputs ?? [],
    );
    const dynamoDb = new DynamoDBClient(config);
    const sfn = new SFNClient(config);
    const kms = new KMSClient(config);
    const s3 = new S3Client(config);
    const region = await cloudFormation.config.region();
    return {
      description: `stack ${options.stack} in ${region}`,
      store: createDynamoDbStore(dynamoDb, tables),
      sfn,
      stateMachineArn,
      auditDigests: auditDigestsTarget(s3, kms, auditDigests),
      // The SDK's default credential chain (profile, SSO, environment, instance role), as every client uses.
      operatorApi: operatorApiAt(operatorApiUrl, () => dynamoDb.config.credentials(), region),
      close: () => {
        dynamoDb.destroy();
        sfn.destroy();
        kms.destroy();
        s3.destroy();
      },
    };
  } finally {
    cloudFormation.destroy();
  }
}

/** The operator API at `url`, each request signed for `region` with `credentials` (SigV4, service lambda). */
function operatorApiAt(url: string, credentials: CredentialSource, region: string): OperatorApiClient {
  return new OperatorApiClient(
    (body) => signedPost(url, body, credentials, region),
    `the operator API at ${url}`,
  );
}

function unreachable(service: string, error: unknown): CliError {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new CliError(`cannot reach ${service}: ${message}`, EXIT.unavailable, { cause: error });
}
