/**
 * AuditDigests: what makes the audit trail tamper-evident to an insider with write access to the audit
 * table. A sealer function signs digests of the chains with an asymmetric KMS key (RSA_2048, SIGN_VERIFY)
 * and stores them in a bucket with Object Lock in COMPLIANCE mode, every few minutes and whenever an
 * execution ends. Its role may read the audit table, sign with that key, and add digests; nothing else.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { AnyPrincipal, Effect, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
  type IBucket,
} from 'aws-cdk-lib/aws-s3';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { SEAL_CONFIG_ENV } from '../lambdas/runtime/seal-config.js';
import { DIGEST_PREFIX } from '../shared/domain/audit-digest.js';
import { DEFAULT_SEAL_INTERVAL_MS } from '../shared/domain/audit-digest-verification.js';
import { checkInteger } from './prop-validation.js';
import { RejuvFunction } from './rejuv-function.js';

export interface AuditDigestsProps {
  /** The table of the hash-chained audit records the digests seal. */
  readonly auditTable: ITableV2;
  /** Its executions' ends (every terminal status) trigger a seal. */
  readonly stateMachine: IStateMachine;
  /**
   * How long each digest is locked: nobody, the account's root included, can delete or replace it before.
   * @default 2555 (seven years)
   */
  readonly retentionDays?: number;
  /**
   * Time between two scheduled seals: at most this long, an appended record is not yet sealed. Verifiers
   * read it from the stack output AuditSealIntervalSeconds: a record older than this plus a grace and a
   * margin that no digest covers is a finding (a digest hidden behind a delete marker, or a stopped sealer).
   * @default DEFAULT_SEAL_INTERVAL (15 minutes)
   */
  readonly sealInterval?: Duration;
  /** How long the sealer's logs are kept. */
  readonly logRetention: RetentionDays;
}

export const DEFAULT_DIGEST_RETENTION_DAYS = 2555;
export const DEFAULT_SEAL_INTERVAL = Duration.minutes(DEFAULT_SEAL_INTERVAL_MS / 60_000);
/** Terminal statuses of a Standard execution: every end is sealed. */
const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export class AuditDigests extends Construct {
  readonly bucket: IBucket;
  readonly signingKey: Key;
  readonly sealer: RejuvFunction;
  /** How often the sealer runs on its schedule, besides every execution end. */
  readonly sealInterval: Duration;

  constructor(scope: Construct, id: string, props: AuditDigestsProps) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? DEFAULT_DIGEST_RETENTION_DAYS;
    this.sealInterval = props.sealInterval ?? DEFAULT_SEAL_INTERVAL;
    checkInteger(this, 'audit digest retentionDays', retentionDays, 1, 36_500);

    this.signingKey = new Key(this, 'SigningKey', {
      description: 'rejuv audit digests: signs each digest; verifiers use its public key, offline',
      keySpec: KeySpec.RSA_2048,
      keyUsage: KeyUsage.SIGN_VERIFY,
      // Old digests stay verifiable only while the public key can be had: keep the key with the trail.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const bucket = new Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: ObjectLockRetention.compliance(Duration.days(retentionDays)),
      versioned: true,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = bucket;
    // Object Lock refuses to delete a locked version, but a DELETE without a version id is allowed: it adds
    // a delete marker that hides the newest digests from a listing. Nobody has a reason to delete a digest,
    // so nobody may, whatever their IAM grants. What the stack cannot prevent: someone allowed
    // s3:PutBucketPolicy (the account's root always is) can remove this statement first. Versioning
    // cannot be suspended on an Object Lock bucket. Verification does not rely on either: it reports
    // records older than the seal schedule allows that no visible digest covers.
    bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyDigestDeletes',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: [bucket.arnForObjects(`${DIGEST_PREFIX}*`)],
      }),
    );

    this.sealer = new RejuvFunction(this, 'SealFunction', {
      entry: fileURLToPath(new URL('../lambdas/seal-audit-digest.ts', import.meta.url)),
      description: 'rejuv audit sealer: signs a digest of the audit chains and stores it write-once',
      environment: {
        [SEAL_CONFIG_ENV]: Stack.of(this).toJsonString({
          auditTable: props.auditTable.tableName,
          bucket: bucket.bucketName,
          keyArn: this.signingKey.keyArn,
          retentionDays,
        }),
      },
      timeout: Duration.minutes(5),
      logRetention: props.logRetention,
    });
    // Enumerates the chains (Scan), reads each from its sealed head on (Query), and reads heads (GetItem).
    this.sealer.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'],
        resources: [props.auditTable.tableArn],
      }),
    );
    this.sealer.addToRolePolicy(
      new PolicyStatement({ actions: ['kms:Sign'], resources: [this.signingKey.keyArn] }),
    );
    const digests = bucket.arnForObjects(`${DIGEST_PREFIX}*`);
    this.sealer.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject'],
        resources: [digests],
      }),
    );
    this.sealer.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DIGEST_PREFIX}*`] } },
      }),
    );

    new Rule(this, 'SealSchedule', {
      description: 'Seals the audit trail on a schedule',
      schedule: Schedule.rate(this.sealInterval),
      targets: [new LambdaFunction(this.sealer, { retryAttempts: 2 })],
    });
    new Rule(this, 'ExecutionSealRule', {
      description: 'Seals the audit trail when an execution ends',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...TERMINAL_STATUSES], stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [new LambdaFunction(this.sealer, { retryAttempts: 2 })],
    });
  }
}

/**
 * The audit trail is append-only for the functions: whatever else their grants allow, an explicit deny
 * keeps them from updating or deleting an audit item (an append is a conditional PutItem).
 */
export function denyAuditRewrites(auditTable: ITableV2, principals: readonly IGrantable[]): void {
  for (const principal of principals) {
    principal.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: [
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:PartiQLUpdate',
          'dynamodb:PartiQLDelete',
        ],
        resources: [auditTable.tableArn],
      }),
    );
  }
}
