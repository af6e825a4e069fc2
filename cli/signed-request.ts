/**
 * A SigV4-signed POST to a Lambda function URL with AuthType AWS_IAM, signed by the SDK's own signer as
 * the SDK signs its API calls (service `lambda`, the body's SHA-256 in x-amz-content-sha256, the session
 * token when the credentials are a role session's). The same code signs for the deployed function URL
 * and for the local one, which verifies the signature as AWS does.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** Fixed credentials, or a provider (the SDK's default chain) asked at each signing. */
export type CredentialSource = SigningCredentials | (() => Promise<SigningCredentials>);

export interface SigningOptions {
  /** When the request is signed. @default now */
  readonly signingDate?: Date;
}

export interface SignedPost {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Signs a JSON POST to `url` (a function URL, with or without a path) for `region`. */
export async function signRequest(
  url: string | URL,
  body: string,
  credentials: CredentialSource,
  region: string,
  options: SigningOptions = {},
): Promise<SignedPost> {
  const target = new URL(url);
  const resolved = typeof credentials === 'function' ? await credentials() : credentials;
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: resolved.accessKeyId,
      secretAccessKey: resolved.secretAccessKey,
      ...(resolved.sessionToken === undefined ? {} : { sessionToken: resolved.sessionToken }),
    },
    region,
    service: 'lambda',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port === '' ? {} : { port: Number(target.port) }),
      path: target.pathname,
      query: Object.fromEntries(target.searchParams),
      // `host` is what the receiver checks the signature against: exactly what fetch will send.
      headers: { host: target.host, 'content-type': 'application/json' },
      body,
    },
    { signingDate: options.signingDate ?? new Date() },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name] = String(value);
  return { url: target, headers, body };
}

/** Signs and sends a JSON POST; the response as fetch gives it (any status: the caller reads it). */
export async function signedFetch(
  url: string | URL,
  body: string,
  credentials: CredentialSource,
  region: string,
  options: SigningOptions = {},
): Promise<Response> {
  const signed = await signRequest(url, body, credentials, region, options);
  return sendSigned(signed);
}

/**
 * Signs and sends a JSON POST with node's http client, which waits for the answer as long as it takes:
 * a release runs Preflight and Verify before the API answers (minutes), longer than fetch's 5-minute
 * header timeout allows.
 */
export async function signedPost(
  url: string | URL,
  body: string,
  credentials: CredentialSource,
  region: string,
): Promise<{ readonly status: number; readonly body: string }> {
  const signed = await signRequest(url, body, credentials, region);
  const send = signed.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(signed.url, { method: 'POST', headers: signed.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Sends a request `signRequest` signed (fetch sets `host` itself, from the same URL). */
export function sendSigned(signed: SignedPost): Promise<Response> {
  return fetch(signed.url, { method: 'POST', headers: withoutHost(signed.headers), body: signed.body });
}

/** The signed headers fetch may send: all but `host`, which fetch derives from the URL. */
export function withoutHost(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'host'));
}
