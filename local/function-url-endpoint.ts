/**
 * A local Lambda function URL with AuthType AWS_IAM: an HTTP server on 127.0.0.1 that does what Lambda
 * does in front of a function URL. It verifies the caller's SigV4 signature (service `lambda`) by
 * recomputing it with the secret local IAM holds for the key; authorizes lambda:InvokeFunctionUrl and
 * lambda:InvokeFunction on the function through local IAM, with the caller's identity policies and the
 * function's resource policy; builds the payload format 2.0 event whose
 * `requestContext.authorizer.iam.userArn` names the signer; and maps the function's result to the HTTP
 * response as function URLs do. Anything refused is `403 {"Message":"Forbidden"}` and the function is
 * not invoked; a function error is a 502.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Authorizer, PolicyDocument, SigningIdentity } from './iam/local-iam.js';
import { functionUrlRequests } from './iam/service-requests.js';
import { verifySigV4 } from './iam/sigv4-verifier.js';

/** Lambda's 6 MB limit on a synchronous invocation's request and response payloads. */
export const MAX_FUNCTION_URL_PAYLOAD_BYTES = 6_291_456;

/** What local IAM offers the function URL: the secrets to verify signatures, and authorization. */
export interface FunctionUrlIam extends Authorizer {
  signingIdentity(accessKeyId: string): SigningIdentity | undefined;
}

export interface LocalFunctionUrlOptions {
  /** The function's unqualified ARN: the resource IAM authorizes, and the account in the event. */
  readonly functionArn: string;
  /** The region callers sign for. */
  readonly region: string;
  readonly iam: FunctionUrlIam;
  /**
   * The function's resource-based policy (see `functionResourcePolicy`). @default none: only identity
   * policies can allow
   */
  readonly resourcePolicy?: PolicyDocument;
  /** Invokes the function synchronously; a thrown error is a function error. */
  readonly invoke: (event: FunctionUrlEvent) => Promise<unknown>;
  /** @default an ephemeral port */
  readonly port?: number;
  /** The server's clock, which a signature's date is checked against. @default the system clock */
  readonly now?: () => Date;
}

/** The payload format 2.0 event a function URL passes to its function. */
export interface FunctionUrlEvent {
  readonly version: '2.0';
  readonly routeKey: '$default';
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly cookies?: string[];
  readonly headers: Record<string, string>;
  readonly queryStringParameters?: Record<string, string>;
  readonly requestContext: {
    readonly accountId: string;
    readonly apiId: string;
    readonly authorizer: {
      readonly iam: {
        readonly accessKey: string;
        readonly accountId: string;
        readonly callerId: string;
        readonly cognitoIdentity: null;
        readonly principalOrgId: null;
        readonly userArn: string;
        readonly userId: string;
      };
    };
    readonly domainName: string;
    readonly domainPrefix: string;
    readonly http: {
      readonly method: string;
      readonly path: string;
      readonly protocol: string;
      readonly sourceIp: string;
      readonly userAgent: string;
    };
    readonly requestId: string;
    readonly routeKey: '$default';
    readonly stage: '$default';
    readonly time: string;
    readonly timeEpoch: number;
  };
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

/** One request the function URL answered: what a test or a run reads to see why a call was refused. */
export interface FunctionUrlRequestRecord {
  readonly requestId: string;
  readonly status: number;
  /** The signer, once the signature is verified. */
  readonly principalArn?: string;
  /** Why it was refused or failed (never sent to the caller, as AWS sends only "Forbidden"). */
  readonly reason?: string;
}

export interface RunningLocalFunctionUrl {
  /** `http://127.0.0.1:<port>/`, as a function URL ends with `/`. */
  readonly url: string;
  requests(): readonly FunctionUrlRequestRecord[];
  close(): Promise<void>;
}

const FORBIDDEN = { Message: 'Forbidden' };
const INTERNAL_SERVER_ERROR = { Message: 'Internal Server Error' };

export async function startLocalFunctionUrlEndpoint(
  options: LocalFunctionUrlOptions,
): Promise<RunningLocalFunctionUrl> {
  const accountId = options.functionArn.split(':')[4] ?? '';
  if (!/^arn:[\w-]+:lambda:[\w-]+:\d{12}:function:[\w-]+$/.test(options.functionArn))
    throw new Error(`${options.functionArn} is not an unqualified Lambda function ARN`);
  // Lambda derives the url id from the function; a stable one here keeps events comparable across runs.
  const urlId = createHash('sha256').update(options.functionArn).digest('hex').slice(0, 32);
  const records: FunctionUrlRequestRecord[] = [];
  const context = { ...options, accountId, urlId, records };
  const server = createServer((req, res) => {
    serve(req, res, context).catch((error: unknown) => {
      records.push({ requestId: 'unanswered', status: 500, reason: (error as Error).message });
      res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests: () => [...records],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface ServeContext extends LocalFunctionUrlOptions {
  readonly accountId: string;
  readonly urlId: string;
  readonly records: FunctionUrlRequestRecord[];
}

async function serve(req: IncomingMessage, res: ServerResponse, c: ServeContext): Promise<void> {
  const requestId = randomUUID();
  const received = new Date();
  const answer = (
    status: number,
    body: unknown,
    record: Omit<FunctionUrlRequestRecord, 'requestId' | 'status'>,
  ): void => {
    c.records.push({ requestId, status, ...record });
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
    res.end(JSON.stringify(body));
  };

  const body = await readBody(req, MAX_FUNCTION_URL_PAYLOAD_BYTES);
  if (body === undefined)
    return answer(
      413,
      { Message: 'Request Entity Too Large' },
      { reason: `the body exceeds ${MAX_FUNCTION_URL_PAYLOAD_BYTES} bytes` },
    );
  const headers = headersOf(req);
  const [path = '/', query = ''] = splitOnce(req.url ?? '/', '?');

  const verification = await verifySigV4(
    { method: req.method ?? 'GET', path, query, headers, body },
    {
      region: c.region,
      service: 'lambda',
      identityOf: (key) => c.iam.signingIdentity(key),
      ...(c.now === undefined ? {} : { now: c.now }),
    },
  );
  if (verification.outcome === 'refused') return answer(403, FORBIDDEN, { reason: verification.reason });
  const identity = verification.identity;

  const authorization = await c.iam.authorize(
    identity.accessKeyId,
    functionUrlRequests(c.functionArn, c.resourcePolicy),
  );
  if (authorization.outcome !== 'allowed')
    return answer(403, FORBIDDEN, { principalArn: identity.principalArn, reason: authorization.message });

  const event = eventOf({ req, headers, path, query, body, identity, requestId, received, c });
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_FUNCTION_URL_PAYLOAD_BYTES)
    return answer(
      413,
      { Message: 'Request Entity Too Large' },
      { principalArn: identity.principalArn, reason: 'the event exceeds the invocation payload limit' },
    );

  let result: unknown;
  try {
    result = await c.invoke(event);
  } catch (error) {
    return answer(502, INTERNAL_SERVER_ERROR, {
      principalArn: identity.principalArn,
      reason: `function error: ${(error as Error).name}: ${(error as Error).message}`,
    });
  }
  const response = responseOf(result);
  if ('malformed' in response)
    return answer(502, INTERNAL_SERVER_ERROR, {
      principalArn: identity.principalArn,
      reason: response.malformed,
    });
  c.records.push({ requestId, status: response.statusCode, principalArn: identity.principalArn });
  res.writeHead(response.statusCode, { ...response.headers, 'x-amzn-requestid': requestId });
  res.end(response.body);
}

/** The body, or undefined once it exceeds `limit` (the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Header names lower-cased, repeated headers joined with `,` (cookies with `;`), as the event has them. */
function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headersDistinct)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = value.join(name.toLowerCase() === 'cookie' ? '; ' : ',');
  }
  return headers;
}

function splitOnce(value: string, separator: string): [string, string] {
  const at = value.indexOf(separator);
  return at < 0 ? [value, ''] : [value.slice(0, at), value.slice(at + 1)];
}

/** Content types Lambda passes as text; any other body reaches the function base64-encoded. */
function isText(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  return /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|yaml)|[^;]*\+(json|xml))/i.test(
    contentType.trim(),
  );
}

function eventOf(r: {
  req: IncomingMessage;
  headers: Record<string, string>;
  path: string;
  query: string;
  body: Buffer;
  identity: SigningIdentity;
  requestId: string;
  received: Date;
  c: ServeContext;
}): FunctionUrlEvent {
  const { cookie, ...headers } = r.headers;
  const sourceIp = (r.req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const forwarded = {
    'x-forwarded-for': sourceIp,
    'x-forwarded-proto': 'http',
    'x-forwarded-port': String(r.req.socket.localPort ?? ''),
  };
  const parameters = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(r.query))
    parameters.set(key, [...(parameters.get(key) ?? []), value]);
  const text = isText(r.headers['content-type']);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: r.path,
    rawQueryString: r.query,
    ...(cookie === undefined ? {} : { cookies: cookie.split(';').map((c) => c.trim()) }),
    headers: { ...headers, ...forwarded },
    ...(parameters.size === 0
      ? {}
      : {
          queryStringParameters: Object.fromEntries(
            [...parameters].map(([key, values]) => [key, values.join(',')]),
          ),
        }),
    requestContext: {
      accountId: r.c.accountId,
      apiId: r.c.urlId,
      authorizer: {
        iam: {
          accessKey: r.identity.accessKeyId,
          accountId: r.identity.accountId,
          callerId: r.identity.userId,
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: r.identity.principalArn,
          userId: r.identity.userId,
        },
      },
      domainName: r.headers['host'] ?? '127.0.0.1',
      domainPrefix: r.c.urlId,
      http: {
        method: r.req.method ?? 'GET',
        path: r.path,
        protocol: `HTTP/${r.req.httpVersion}`,
        sourceIp,
        userAgent: r.headers['user-agent'] ?? '',
      },
      requestId: r.requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(r.received),
      timeEpoch: r.received.getTime(),
    },
    ...(r.body.byteLength === 0 ? {} : { body: text ? r.body.toString('utf8') : r.body.toString('base64') }),
    isBase64Encoded: r.body.byteLength > 0 && !text,
  };
}

/** `12/Mar/2020:19:03:58 +0000`, the event's `time`. */
function clfTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${two(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

type HttpResponse =
  | {
      readonly statusCode: number;
      readonly headers: Record<string, string | string[]>;
      readonly body: Buffer;
    }
  | { readonly malformed: string };

/**
 * The function's result as the HTTP response: an object with `statusCode` is a response (headers, body,
 * isBase64Encoded, cookies as set-cookie); anything else is a 200 whose JSON body is the result.
 */
function responseOf(result: unknown): HttpResponse {
  const json = JSON.stringify(result ?? null);
  if (Buffer.byteLength(json) > MAX_FUNCTION_URL_PAYLOAD_BYTES)
    return { malformed: `the response exceeds ${MAX_FUNCTION_URL_PAYLOAD_BYTES} bytes` };
  if (result === null || typeof result !== 'object' || Array.isArray(result) || !('statusCode' in result))
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(json) };
  const r = result as Record<string, unknown>;
  const statusCode = r['statusCode'];
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599)
    return { malformed: `statusCode ${JSON.stringify(statusCode)} is not an HTTP status` };
  if (r['body'] !== undefined && typeof r['body'] !== 'string') return { malformed: 'body is not a string' };
  const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
  const given = r['headers'];
  if (given !== undefined) {
    if (given === null || typeof given !== 'object') return { malformed: 'headers is not an object' };
    for (const [name, value] of Object.entries(given)) headers[name.toLowerCase()] = String(value);
  }
  const cookies = r['cookies'];
  if (cookies !== undefined) {
    if (!Array.isArray(cookies) || cookies.some((c) => typeof c !== 'string'))
      return { malformed: 'cookies is not a list of strings' };
    headers['set-cookie'] = cookies as string[];
  }
  const text = (r['body'] as string | undefined) ?? '';
  return {
    statusCode,
    headers,
    body: r['isBase64Encoded'] === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8'),
  };
}
