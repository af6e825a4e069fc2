/**
 * A local S3 (REST-XML, path-style addressing) with versioning and Object Lock, enough to prove an audit
 * digest cannot be rewritten: every PUT adds a version (or is refused by `If-None-Match: *` when the key
 * has one), a version under COMPLIANCE retention cannot be deleted until its retain-until date, whoever
 * asks, and deleting a key without a version id only adds a delete marker, as in a versioned bucket. The
 * real @aws-sdk/client-s3 talks to it unmodified. (The npm package s3rver was checked: it has neither
 * versioning nor Object Lock.)
 *
 * Emulated: PutObject (metadata, Object Lock mode and retain-until headers or the bucket's default
 * retention, If-None-Match, aws-chunked bodies), GetObject and HeadObject (current or given version),
 * ListObjectsV2 (prefix, start-after, continuation, max-keys), DeleteObject (marker, or a version:
 * AccessDenied while locked; GOVERNANCE yields to x-amz-bypass-governance-retention). S3's error codes.
 * A bucket policy given at creation is evaluated with the caller's IAM policies.
 * Not emulated: PutObjectRetention and legal holds, ListObjectVersions, multipart uploads, ACLs,
 * PutBucketPolicy, signatures (the access key names the caller), virtual-hosted addressing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { systemClock, type Clock } from '../shared/domain/clock.js';
import { accessKeyIdOf, type Authorizer, type PolicyDocument } from './iam/local-iam.js';
import { s3Requests } from './iam/service-requests.js';

export type ObjectLockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface LocalBucketOptions {
  /** Retention every new version gets unless its PUT says otherwise. @default none */
  readonly defaultRetention?: { readonly mode: ObjectLockMode; readonly days: number };
  /**
   * The bucket policy, evaluated with the caller's IAM policies (an explicit deny in either refuses).
   * The administrator's key stands outside IAM here as everywhere in local mode. @default none
   */
  readonly policy?: PolicyDocument;
}

interface ObjectVersion {
  readonly versionId: string;
  readonly deleteMarker: boolean;
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: Date;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly lock: { readonly mode: ObjectLockMode; readonly retainUntil: Date } | undefined;
}

interface Bucket {
  readonly options: LocalBucketOptions;
  /** Versions of each key, newest last. */
  readonly objects: Map<string, ObjectVersion[]>;
}

export interface LocalS3Options {
  readonly partition?: string;
  readonly authorizer?: Authorizer;
  /** Time of versions and of retention checks. @default systemClock */
  readonly clock?: Clock;
}

export interface RunningLocalS3 {
  readonly endpoint: string;
  /** Creates a bucket with Object Lock enabled (hence versioned). */
  createBucket(name: string, options?: LocalBucketOptions): void;
  stop(): Promise<void>;
}

class S3Error extends Error {
  override readonly name = 'S3Error';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startLocalS3Endpoint(options: LocalS3Options = {}): Promise<RunningLocalS3> {
  const buckets = new Map<string, Bucket>();
  const clock = options.clock ?? systemClock;
  const partition = options.partition ?? 'aws';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [bucketName = '', ...keyParts] = url.pathname.slice(1).split('/');
    const key = keyParts.length === 0 ? undefined : decodeURIComponent(keyParts.join('/'));
    const method = req.method ?? 'GET';
    const versionId = url.searchParams.get('versionId') ?? undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).byteLength;
      if (size > MAX_BODY_BYTES)
        throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
      chunks.push(chunk as Buffer);
    }
    const bucket = buckets.get(decodeURIComponent(bucketName));
    if (bucket === undefined) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    const setsRetention = req.headers['x-amz-object-lock-mode'] !== undefined;
    if (options.authorizer !== undefined) {
      const policy = bucket.options.policy;
      const requests = s3Requests(
        { partition },
        {
          method,
          bucket: bucketName,
          key,
          versionId,
          setsRetention,
          prefix: url.searchParams.get('prefix') ?? undefined,
        },
      ).map((r) =>
        policy === undefined
          ? r
          : // The endpoint stands in for S3's HTTPS one: a policy's deny of plain HTTP does not apply.
            { ...r, resourcePolicy: policy, context: { ...r.context, 'aws:SecureTransport': 'true' } },
      );
      const decision = await options.authorizer.authorize(accessKeyIdOf(req.headers.authorization), requests);
      if (decision.outcome === 'unknown-key')
        throw new S3Error(
          403,
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records.',
        );
      if (decision.outcome === 'denied') throw new S3Error(403, 'AccessDenied', decision.message);
    }
    if (key === undefined || key === '') {
      if (method === 'GET' && url.searchParams.get('list-type') === '2')
        return listObjectsV2(bucket, url, res);
      throw new S3Error(501, 'NotImplemented', `${method} on a bucket is not emulated`);
    }
    if ([...url.searchParams.keys()].some((p) => p !== 'versionId' && p !== 'x-id'))
      throw new S3Error(501, 'NotImplemented', `subresource ${url.search} is not emulated`);
    switch (method) {
      case 'PUT':
        return putObject(bucket, key, req, decodeBody(req, Buffer.concat(chunks)), res);
      case 'GET':
      case 'HEAD':
        return getObject(bucket, key, versionId, method === 'HEAD', res);
      case 'DELETE':
        return deleteObject(bucket, key, versionId, req, res);
      default:
        throw new S3Error(405, 'MethodNotAllowed', `${method} is not allowed on an object`);
    }
  };

  const putObject = (
    bucket: Bucket,
    key: string,
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
  ): void => {
    const versions = bucket.objects.get(key) ?? [];
    const current = versions[versions.length - 1];
    if (req.headers['if-none-match'] === '*' && current !== undefined && !current.deleteMarker)
      throw new S3Error(
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
      );
    const mode = header(req, 'x-amz-object-lock-mode');
    const until = header(req, 'x-amz-object-lock-retain-until-date');
    let lock: ObjectVersion['lock'];
    if (mode !== undefined || until !== undefined) {
      if (
        (mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE') ||
        until === undefined ||
        Number.isNaN(Date.parse(until))
      )
        throw new S3Error(
          400,
          'InvalidArgument',
          'x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must be given together, with a valid mode and date',
        );
      if (Date.parse(until) <= clock.nowMs())
        throw new S3Error(400, 'InvalidArgument', 'The retain until date must be in the future!');
      lock = { mode, retainUntil: new Date(until) };
    } else if (bucket.options.defaultRetention !== undefined) {
      const { mode: defaultMode, days } = bucket.options.defaultRetention;
      lock = { mode: defaultMode, retainUntil: new Date(clock.nowMs() + days * 86_400_000) };
    }
    const metadata = Object.fromEntries(
      Object.entries(req.headers)
        .filter(([name]) => name.startsWith('x-amz-meta-'))
        .map(([name, value]) => [name.slice('x-amz-meta-'.length), String(value)]),
    );
    const version: ObjectVersion = {
      versionId: randomUUID().replace(/-/g, ''),
      deleteMarker: false,
      body,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified: new Date(clock.nowMs()),
      contentType: header(req, 'content-type') ?? 'binary/octet-stream',
      metadata,
      lock,
    };
    bucket.objects.set(key, [...versions, version]);
    res.writeHead(200, { etag: version.etag, 'x-amz-version-id': version.versionId }).end();
  };

  const getObject = (
    bucket: Bucket,
    key: string,
    versionId: string | undefined,
    head: boolean,
    res: ServerResponse,
  ): void => {
    const versions = bucket.objects.get(key) ?? [];
    const version =
      versionId === undefined
        ? versions[versions.length - 1]
        : versions.find((v) => v.versionId === versionId);
    if (version === undefined)
      throw versionId === undefined
        ? new S3Error(404, 'NoSuchKey', 'The specified key does not exist.')
        : new S3Error(404, 'NoSuchVersion', 'The specified version does not exist.');
    if (version.deleteMarker)
      throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', {
        'x-amz-delete-marker': 'true',
        'x-amz-version-id': version.versionId,
      });
    res.writeHead(200, {
      'content-type': version.contentType,
      'content-length': version.body.byteLength,
      etag: version.etag,
      'last-modified': version.lastModified.toUTCString(),
      'x-amz-version-id': version.versionId,
      ...Object.fromEntries(Object.entries(version.metadata).map(([k, v]) => [`x-amz-meta-${k}`, v])),
      ...(version.lock === undefined
        ? {}
        : {
            'x-amz-object-lock-mode': version.lock.mode,
            'x-amz-object-lock-retain-until-date': version.lock.retainUntil.toISOString(),
          }),
    });
    res.end(head ? undefined : version.body);
  };

  const deleteObject = (
    bucket: Bucket,
    key: string,
    versionId: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): void => {
    const versions = bucket.objects.get(key) ?? [];
    if (versionId === undefined) {
      // A versioned bucket keeps every version: deleting the key only hides it behind a marker.
      const marker: ObjectVersion = {
        versionId: randomUUID().replace(/-/g, ''),
        deleteMarker: true,
        body: Buffer.alloc(0),
        etag: '',
        lastModified: new Date(clock.nowMs()),
        contentType: '',
        metadata: {},
        lock: undefined,
      };
      bucket.objects.set(key, [...versions, marker]);
      res.writeHead(204, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId }).end();
      return;
    }
    const version = versions.find((v) => v.versionId === versionId);
    if (
      version !== undefined &&
      version.lock !== undefined &&
      version.lock.retainUntil.getTime() > clock.nowMs()
    ) {
      const bypass = header(req, 'x-amz-bypass-governance-retention') === 'true';
      if (version.lock.mode === 'COMPLIANCE' || !bypass)
        throw new S3Error(403, 'AccessDenied', 'Access Denied because object protected by object lock.');
    }
    bucket.objects.set(
      key,
      versions.filter((v) => v.versionId !== versionId),
    );
    res.writeHead(204, { 'x-amz-version-id': versionId }).end();
  };

  const listObjectsV2 = (bucket: Bucket, url: URL, res: ServerResponse): void => {
    const prefix = url.searchParams.get('prefix') ?? '';
    const maxKeys = Math.min(1000, Number(url.searchParams.get('max-keys') ?? 1000));
    const token = url.searchParams.get('continuation-token');
    const after =
      token === null
        ? (url.searchParams.get('start-after') ?? '')
        : Buffer.from(token, 'base64').toString('utf8');
    const current = [...bucket.objects.entries()]
      .map(([key, versions]) => [key, versions[versions.length - 1]] as const)
      .filter((e): e is readonly [string, ObjectVersion] => e[1] !== undefined && !e[1].deleteMarker)
      .filter(([key]) => key.startsWith(prefix) && key > after)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const page = current.slice(0, maxKeys);
    const truncated = current.length > page.length;
    const last = page[page.length - 1]?.[0];
    const xml = [
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
      `<Name>${escapeXml(url.pathname.slice(1).split('/')[0] ?? '')}</Name>`,
      `<Prefix>${escapeXml(prefix)}</Prefix>`,
      `<KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`,
      `<IsTruncated>${truncated}</IsTruncated>`,
      ...(token === null ? [] : [`<ContinuationToken>${escapeXml(token)}</ContinuationToken>`]),
      ...(truncated && last !== undefined
        ? [`<NextContinuationToken>${Buffer.from(last).toString('base64')}</NextContinuationToken>`]
        : []),
      ...page.map(
        ([key, v]) =>
          `<Contents><Key>${escapeXml(key)}</Key><LastModified>${v.lastModified.toISOString()}</LastModified><ETag>${escapeXml(v.etag)}</ETag><Size>${v.body.byteLength}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      ),
      `</ListBucketResult>`,
    ].join('');
    res
      .writeHead(200, { 'content-type': 'application/xml' })
      .end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const e =
        error instanceof S3Error ? error : new S3Error(500, 'InternalError', (error as Error).message);
      const requestId = randomUUID();
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${escapeXml(e.message)}</Message><RequestId>${requestId}</RequestId></Error>`;
      if (res.headersSent) return res.destroy();
      res.writeHead(e.status, {
        'content-type': 'application/xml',
        'x-amz-request-id': requestId,
        ...e.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    createBucket: (name, bucketOptions = {}) => {
      if (!buckets.has(name)) buckets.set(name, { options: bucketOptions, objects: new Map() });
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The payload of an `aws-chunked` body (`<hex size>[;ext]\r\n<data>\r\n` … `0\r\n<trailers>`), else the body. */
function decodeBody(req: IncomingMessage, raw: Buffer): Buffer {
  const encoding = header(req, 'content-encoding') ?? '';
  const sha = header(req, 'x-amz-content-sha256') ?? '';
  if (!encoding.includes('aws-chunked') && !sha.startsWith('STREAMING-')) return raw;
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', offset);
    if (lineEnd < 0) throw new S3Error(400, 'IncompleteBody', 'the aws-chunked body ends mid-chunk');
    const size = parseInt(raw.subarray(offset, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (Number.isNaN(size)) throw new S3Error(400, 'InvalidRequest', 'malformed aws-chunked body');
    if (size === 0) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A real S3 client pointed at a local endpoint (path-style), with an administrator's credentials unless given. */
export function localS3Client(
  endpoint: string,
  credentials = { accessKeyId: 'local', secretAccessKey: 'local' },
): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', credentials, forcePathStyle: true, maxAttempts: 2 });
}
