/**
 * SigV4 verification for a local endpoint that must authenticate its callers as AWS does (the function
 * URL): the signature is recomputed with the signer's secret by the SDK's own signer, over exactly the
 * headers the caller signed, the body's hash, the date and the credential scope. What a request carries is
 * never trusted on its own: a body changed after signing, a wrong secret, a stale date, a token that is not
 * the session's, a scope of another region or service, all fail.
 */
import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SigningIdentity } from './local-iam.js';

/** How far a request's date may be from the server's clock, as AWS allows. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface SignedRequest {
  readonly method: string;
  /** The path as received (still percent-encoded), without the query. */
  readonly path: string;
  /** The raw query string, without `?`. */
  readonly query: string;
  /** Header names lower-cased; repeated headers joined with `,`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface SignatureExpectation {
  readonly region: string;
  readonly service: string;
  /** The secret and token behind an access key; undefined for a key IAM does not know. */
  readonly identityOf: (accessKeyId: string) => SigningIdentity | undefined;
  readonly now?: () => Date;
}

export type Verification =
  | { readonly outcome: 'verified'; readonly identity: SigningIdentity }
  | { readonly outcome: 'refused'; readonly reason: string };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

export async function verifySigV4(
  request: SignedRequest,
  expected: SignatureExpectation,
): Promise<Verification> {
  const refused = (reason: string): Verification => ({ outcome: 'refused', reason });
  const authorization = request.headers['authorization'];
  if (authorization === undefined) return refused('the request is not signed');
  const match = AUTHORIZATION.exec(authorization.trim());
  if (match === null) return refused('the Authorization header is not a SigV4 signature');
  const [, accessKeyId = '', scopeDate, region, service, signedHeaderList = '', signature = ''] = match;
  if (region !== expected.region) return refused(`signed for region ${region}, not ${expected.region}`);
  if (service !== expected.service) return refused(`signed for service ${service}, not ${expected.service}`);

  const identity = expected.identityOf(accessKeyId);
  if (identity === undefined) return refused(`unknown access key ${accessKeyId}`);

  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date'])
    if (!signedHeaders.includes(required)) return refused(`the signature does not cover ${required}`);
  const missing = signedHeaders.find((name) => request.headers[name] === undefined);
  if (missing !== undefined) return refused(`signed header ${missing} is not in the request`);

  const signingDate = parseAmzDate(request.headers['x-amz-date'] ?? '');
  if (signingDate === undefined) return refused('x-amz-date is not a date of the form YYYYMMDDTHHMMSSZ');
  if (!request.headers['x-amz-date']?.startsWith(scopeDate ?? ''))
    return refused('the credential scope is dated another day than x-amz-date');
  const now = (expected.now ?? (() => new Date()))();
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS)
    return refused('the signature is more than 5 minutes away from the server time');

  const token = request.headers['x-amz-security-token'];
  if (token !== identity.sessionToken)
    return refused(
      identity.sessionToken === undefined
        ? 'a session token was sent with a long-term access key'
        : 'the session token is missing or is not the session’s',
    );

  // The signer trusts x-amz-content-sha256 as the body's hash: check it against the body itself.
  const bodyHash = await sha256Hex(request.body);
  const claimedHash = request.headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== bodyHash)
    return refused('x-amz-content-sha256 is not the hash of the body');

  const signer = new SignatureV4({
    credentials: {
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      ...(identity.sessionToken === undefined ? {} : { sessionToken: identity.sessionToken }),
    },
    region: expected.region,
    service: expected.service,
    sha256: Sha256,
    // The canonical request must hold exactly what the caller signed: nothing the signer would add.
    applyChecksum: false,
  });
  const recomputed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: request.headers['host'] ?? '',
      path: request.path,
      query: queryOf(request.query),
      headers: Object.fromEntries(signedHeaders.map((name) => [name, request.headers[name] ?? ''])),
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(
    String(recomputed.headers['authorization'] ?? ''),
  )?.[1];
  if (
    expectedSignature === undefined ||
    !timingSafeEqual(Buffer.from(expectedSignature), Buffer.from(signature))
  )
    return refused('the signature does not match');
  return { outcome: 'verified', identity };
}

/** `20261201T101500Z` → the instant; undefined for anything else. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The query as the signer takes it: decoded values, a repeated key as a list. */
function queryOf(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const previous = query[key];
    query[key] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return query;
}

async function sha256Hex(body: Buffer): Promise<string> {
  const hash = new Sha256();
  hash.update(body);
  return Buffer.from(await hash.digest()).toString('hex');
}
