/**
 * An HTTP server speaking the AWS JSON protocol (POST /, `X-Amz-Target: <prefix>.<Operation>`, JSON in
 * and out, errors as `{"__type", "message"}`), which the real SDK clients of SSM and Step Functions use.
 * Each local endpoint supplies its operations; this does the wire.
 *
 * A service that moved from the Query protocol to JSON (CloudWatch) is `queryCompatible`: its clients
 * send `x-amzn-query-mode: true` and name errors by the `x-amzn-query-error: <Code>;<Sender|Receiver>`
 * header, with the Query API's codes; such clients also gzip large request bodies (`Content-Encoding`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { accessKeyIdOf, type Authorization } from '../iam/local-iam.js';
import type { SignedRequest } from '../iam/sigv4-verifier.js';

/** An error the service itself answers with, as the SDK will name it. */
export class AwsServiceError extends Error {
  override readonly name = 'AwsServiceError';
  constructor(
    readonly type: string,
    message: string,
    /** For a query-compatible service: the Query API's code, and the HTTP status. */
    readonly query?: { readonly code: string; readonly status: number },
  ) {
    super(message);
  }
}

/**
 * Answers one request; may be async (a promise is awaited, and its rejection answered as an error). The
 * caller is for operations that authorize part of their work themselves (SSM's SendCommand by Targets).
 */
export type JsonOperation = (body: Record<string, unknown>, caller: JsonCaller) => unknown;

export interface JsonCaller {
  /** From the SigV4 Authorization header; undefined when the request is unsigned. */
  readonly accessKeyId: string | undefined;
}

export interface AwsJsonServerOptions {
  /** E.g. `AmazonSSM` or `AWSStepFunctions`. */
  readonly targetPrefix: string;
  /** `1.0` or `1.1`, as the service's protocol version. */
  readonly jsonVersion: '1.0' | '1.1';
  readonly operations: Readonly<Record<string, JsonOperation>>;
  /**
   * Checks the caller may make this call before it runs (local IAM); throws the AwsServiceError the
   * service answers a refused or unknown caller with.
   */
  readonly authorize?: (request: JsonRequest) => Promise<void>;
  /**
   * Checks the request's SigV4 signature over the bytes as received (compressed, when they are), before
   * anything else; throws the AwsServiceError the service answers a bad signature with.
   */
  readonly verify?: (request: SignedRequest) => Promise<void>;
  /** Answers errors with the `x-amzn-query-error` header as well (see the header comment). */
  readonly queryCompatible?: boolean;
  /** Refuses a larger body (as received) with `RequestEntityTooLarge`. @default no limit */
  readonly maxBodyBytes?: number;
}

export interface JsonRequest {
  readonly operation: string;
  readonly body: Record<string, unknown>;
  /** From the SigV4 Authorization header; undefined when the request is unsigned. */
  readonly accessKeyId: string | undefined;
}

export interface RunningAwsJsonServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startAwsJsonServer(options: AwsJsonServerOptions): Promise<RunningAwsJsonServer> {
  // serve() answers every error it can; one left (the client went away mid-request) ends that socket only.
  const server = createServer((req, res) => {
    serve(req, res, options).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  options: AwsJsonServerOptions,
): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '');
  const prefix = `${options.targetPrefix}.`;
  const operation = target.startsWith(prefix) ? target.slice(prefix.length) : '';
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, {
      'content-type': `application/x-amz-json-${options.jsonVersion}`,
      'x-amzn-requestid': randomUUID(),
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (options.maxBodyBytes !== undefined && raw.byteLength > options.maxBodyBytes)
      throw new AwsServiceError(
        'RequestEntityTooLargeException',
        `the request exceeds ${options.maxBodyBytes} bytes`,
        {
          code: 'RequestEntityTooLarge',
          status: 413,
        },
      );
    const [path = '/', query = ''] = (req.url ?? '/').split(/\?(.*)/s);
    await options.verify?.({ method: req.method ?? 'POST', path, query, headers: headersOf(req), body: raw });
    const handler = options.operations[operation];
    if (handler === undefined) {
      throw new AwsServiceError(
        'UnknownOperationException',
        `operation ${operation || '(none)'} is not emulated`,
      );
    }
    const body = parseBody(decoded(raw, req.headers['content-encoding']));
    const accessKeyId = accessKeyIdOf(req.headers.authorization);
    await options.authorize?.({ operation, body, accessKeyId });
    reply(200, await handler(body, { accessKeyId }));
  } catch (error) {
    const fault = error instanceof AwsServiceError ? error : undefined;
    const status = fault === undefined ? 500 : (fault.query?.status ?? 400);
    const headers: Record<string, string> =
      options.queryCompatible === true
        ? {
            'x-amzn-query-error': `${fault?.query?.code ?? fault?.type ?? 'InternalServiceError'};${status >= 500 ? 'Receiver' : 'Sender'}`,
          }
        : {};
    if (fault !== undefined) reply(status, { __type: fault.type, message: fault.message }, headers);
    else reply(500, { __type: 'InternalServerError', message: (error as Error).message }, headers);
  }
}

/** The body as text: gunzipped when the client compressed it (query-compatible clients do, above 10 KB). */
function decoded(raw: Buffer, encoding: string | undefined): string {
  if (encoding === undefined || encoding === '' || encoding === 'identity') return raw.toString('utf8');
  if (encoding !== 'gzip')
    throw new AwsServiceError('SerializationException', `Content-Encoding ${encoding} is not supported`);
  try {
    return gunzipSync(raw).toString('utf8');
  } catch {
    throw new AwsServiceError('SerializationException', 'the gzip request body does not decompress');
  }
}

/** Header names lower-cased, repeated headers joined with `,` (what SigV4 signs). */
function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  return headers;
}

/** The request's JSON object; anything else is refused as the services refuse it (400, not retried). */
function parseBody(text: string): Record<string, unknown> {
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AwsServiceError('SerializationException', 'the request body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AwsServiceError('SerializationException', 'the request body is not a JSON object');
  return body as Record<string, unknown>;
}

/** What the JSON-protocol services (SSM, Step Functions) answer a caller IAM refused or does not know. */
export function refusedJsonRequest(authorization: Authorization): AwsServiceError | undefined {
  if (authorization.outcome === 'allowed') return undefined;
  return new AwsServiceError(
    authorization.outcome === 'denied' ? 'AccessDeniedException' : 'UnrecognizedClientException',
    authorization.message,
  );
}
