import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DIGEST_PREFIX, digestSeqOfKey, type SignedDigest } from '../../domain/audit-digest.js';
import { DigestSequenceTakenError } from '../../domain/errors.js';
import type { DigestStore } from '../../ports/digest-store.js';

/** The object metadata holding a digest's signature (base64), as CloudTrail keeps its digests' signatures. */
const SIGNATURE_METADATA = 'signature';

/**
 * Digests as objects of a bucket with Object Lock: one key per sequence number, written with
 * `If-None-Match: *` so two sealers can never both write the same number, and with COMPLIANCE retention
 * so nobody, the account's root included, can delete or replace a version before it ends.
 */
export class S3DigestStore implements DigestStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async *list(): AsyncIterable<SignedDigest> {
    for (const key of await this.keys()) yield await this.get(key);
  }

  async latest(): Promise<SignedDigest | undefined> {
    const keys = await this.keys();
    const last = keys[keys.length - 1];
    return last === undefined ? undefined : this.get(last);
  }

  async putNew(digest: SignedDigest, retainUntil: Date): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: digest.key,
          Body: digest.body,
          ContentType: 'application/json',
          IfNoneMatch: '*',
          Metadata: { [SIGNATURE_METADATA]: Buffer.from(digest.signature).toString('base64') },
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: retainUntil,
        }),
      );
    } catch (error) {
      const name = (error as Error).name;
      // 412: the key exists; 409: another conditional write of it is in flight.
      if (name === 'PreconditionFailed' || name === 'ConditionalRequestConflict')
        throw new DigestSequenceTakenError(digest.key);
      throw error;
    }
  }

  /** Digest keys in sequence order (zero-padded, so S3's key order). Other keys are not digests. */
  private async keys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: DIGEST_PREFIX, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key !== undefined && digestSeqOfKey(o.Key) !== undefined) keys.push(o.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  private async get(key: string): Promise<SignedDigest> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const body = (await object.Body?.transformToString('utf8')) ?? '';
    const signature = object.Metadata?.[SIGNATURE_METADATA] ?? '';
    return { key, body, signature: Buffer.from(signature, 'base64') };
  }
}
