/** Seals the audit trail: run every few minutes by a schedule, and by EventBridge when an execution ends. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createDocumentClient } from '../shared/adapters/dynamodb/document-client.js';
import { DynamoDbAuditLog } from '../shared/adapters/dynamodb/dynamodb-audit-log.js';
import { KmsDigestSigner } from '../shared/adapters/kms/kms-digest-signer.js';
import { S3DigestStore } from '../shared/adapters/s3/s3-digest-store.js';
import { sealAuditDigest, type SealDeps, type SealResult } from '../shared/audit/seal-audit-digest.js';
import { systemClock } from '../shared/domain/clock.js';
import { logger, metrics, tracer } from './runtime/observability.js';
import { sealConfig } from './runtime/seal-config.js';
import { toStepError } from './runtime/step-errors.js';

let deps: SealDeps | undefined;

function sealDeps(): SealDeps {
  if (deps !== undefined) return deps;
  const config = sealConfig();
  deps = {
    audit: new DynamoDbAuditLog(
      createDocumentClient(tracer.captureAWSv3Client(new DynamoDBClient({}))),
      config.auditTable,
    ),
    digests: new S3DigestStore(
      // Path-style only where local mode points S3 at an address, which buckets cannot be subdomains of.
      tracer.captureAWSv3Client(
        new S3Client({ forcePathStyle: process.env['AWS_ENDPOINT_URL_S3'] !== undefined }),
      ),
      config.bucket,
    ),
    signer: new KmsDigestSigner(tracer.captureAWSv3Client(new KMSClient({})), config.keyArn),
    clock: systemClock,
    retentionDays: config.retentionDays,
  };
  return deps;
}

/** Whatever triggered it (schedule or execution end), the event only says "now": it is not read. */
export async function handler(_event: unknown): Promise<SealResult> {
  try {
    const result = await sealAuditDigest(sealDeps());
    const single = metrics.singleMetric();
    single.addMetric('AuditChainsRefused', MetricUnit.Count, result.refused.length);
    if (result.refused.length > 0)
      logger.error('audit chains not sealed: what an earlier digest sealed was changed', {
        refused: result.refused,
      });
    logger.info('audit sealed', { result });
    return result;
  } catch (error) {
    logger.error('audit sealing failed', { error: error as Error });
    throw toStepError(error);
  }
}
