/**
 * An HTTP server speaking the AWS JSON protocol (POST /, `X-Amz-Target: <prefix>.<Operation>`, JSON in
 * and out, errors as `{"__type", "message"}`), which the real SDK clients of SSM and Step Functions use.
 * Each local endpoint supplies its operations; this does the wire.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessKeyIdOf, type Authorization } from '../iam/local-iam.js';

/** An error the service itself answers with, as the SDK will name it. */
export class AwsServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Answers one request; may be async (a promise is awaited, and its rejection answered as an error). */
export type JsonOperation = (body: Record<string, unknown>) => unknown;

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
  const reply = (status: number, body: unknown): void => {
    res.writeHead(status, {
      'content-type': `application/x-amz-json-${options.jsonVersion}`,
      'x-amzn-requestid': randomUUID(),
    });
    res.end(JSON.stringify(body));
  };
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const handler = options.operations[operation];
    if (handler === undefined) {
      throw new AwsServiceError(
        'UnknownOperationException',
        `operation ${operation || '(none)'} is not emulated`,
      );
    }
    const body = parseBody(Buffer.concat(chunks).toString('utf8'));
    await options.authorize?.({ operation, body, accessKeyId: accessKeyIdOf(req.headers.authorization) });
    reply(200, await handler(body));
  } catch (error) {
    if (error instanceof AwsServiceError) reply(400, { __type: error.type, message: error.message });
    else reply(500, { __type: 'InternalServerError', message: (error as Error).message });
  }
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
