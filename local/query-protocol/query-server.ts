/**
 * A loopback HTTP server speaking the AWS Query protocol, shared by the local SNS and ELBv2 endpoints so
 * the real SDK clients run against them unmodified (only `endpoint` and dummy credentials change). It does
 * the protocol work (form parsing, Action and Version dispatch, XML envelopes, error responses, request
 * ids) and leaves the service's behaviour to a table of action handlers. Signatures are not verified, but
 * an unsigned request is refused as AWS would refuse it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessKeyIdOf, type Authorizer, type ServiceRequest } from '../iam/local-iam.js';
import { MalformedQueryError, QueryServiceError } from './query-errors.js';
import { parseQueryRequest, type QueryRequest } from './query-params.js';
import {
  ec2ErrorResponse,
  ec2SuccessResponse,
  xmlErrorResponse,
  xmlSuccessResponse,
  type XmlFragment,
} from './query-xml.js';

/**
 * Handles one action: parses the parameter tree, changes the emulated state, returns the members of the
 * `<ActionResult>` element, or throws QueryServiceError. Handlers are synchronous, so each action runs to
 * completion before the next request is looked at, as if the service serialized them.
 */
export type QueryActionHandler = (params: QueryRequest['params']) => readonly XmlFragment[];

export interface QueryServiceDefinition {
  /** `Version` every request must carry, e.g. `2010-03-31`. */
  readonly version: string;
  /** The namespace on response roots, e.g. `http://sns.amazonaws.com/doc/2010-03-31/`. */
  readonly xmlNamespace: string;
  /** The HTTP status AWS sends for an error code, where it is not 400 (e.g. SNS's NotFound is 404). */
  readonly httpStatusOf?: Readonly<Record<string, number>>;
  readonly actions: Readonly<Record<string, QueryActionHandler>>;
  /**
   * The XML envelope: the Query protocol's (`<ActionResult>`, `<ErrorResponse>`), or EC2's own variant of
   * it (members right under `<ActionResponse>`, errors as `<Response><Errors><Error>`).
   * @default 'query'
   */
  readonly envelope?: 'query' | 'ec2';
  /**
   * Checks the caller may make this call before it runs (local IAM); throws the QueryServiceError the
   * service answers a refused or unknown caller with.
   */
  readonly authorize?: (
    action: string,
    params: QueryRequest['params'],
    accessKeyId: string | undefined,
  ) => Promise<void>;
}

export interface RunningQueryServer {
  /** `http://127.0.0.1:<port>`, for the SDK client's `endpoint`. */
  readonly endpoint: string;
  /**
   * Fault seam: the next `count` requests for `action` are answered with the error `code` (status from the
   * service's table, else 400) instead of being handled; a retried request consumes one as well.
   */
  failNext(action: string, code: string, count?: number): void;
  /** Requests received for `action` so far, failed or not: shows how often the SDK retried. */
  requestCount(action: string): number;
  /** Closes the listener and every open connection, keep-alive ones included. */
  stop(): Promise<void>;
}

/** Far above any legitimate request here (an SNS message is at most 256 KiB before form encoding). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startQueryServer(service: QueryServiceDefinition): Promise<RunningQueryServer> {
  const pendingFaults = new Map<string, { code: string; remaining: number }>();
  const requestCounts = new Map<string, number>();
  const statusOf = (code: string): number => service.httpStatusOf?.[code] ?? 400;

  const respond = (res: ServerResponse, status: number, xml: string, requestId: string): void => {
    const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`, 'utf8');
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': body.byteLength,
      'x-amzn-requestid': requestId,
    });
    res.end(body);
  };

  const handle = async (
    req: IncomingMessage,
    body: string,
  ): Promise<{ status: number; xml: string; requestId: string }> => {
    const requestId = randomUUID();
    try {
      const action = route(req, body, service);
      await service.authorize?.(action.name, action.params, accessKeyIdOf(req.headers.authorization));
      requestCounts.set(action.name, (requestCounts.get(action.name) ?? 0) + 1);
      const fault = pendingFaults.get(action.name);
      if (fault !== undefined && fault.remaining > 0) {
        fault.remaining -= 1;
        throw new QueryServiceError(fault.code, faultMessage(fault.code));
      }
      const result = action.handler(action.params);
      return {
        status: 200,
        xml:
          service.envelope === 'ec2'
            ? ec2SuccessResponse(action.name, service.xmlNamespace, result, requestId)
            : xmlSuccessResponse(action.name, service.xmlNamespace, result, requestId),
        requestId,
      };
    } catch (error) {
      const serviceError = asServiceError(error);
      const status = serviceError.httpStatus ?? statusOf(serviceError.code);
      const answer = {
        type: status >= 500 ? ('Receiver' as const) : ('Sender' as const),
        code: serviceError.code,
        message: serviceError.message,
      };
      const xml =
        service.envelope === 'ec2'
          ? ec2ErrorResponse(answer, requestId)
          : xmlErrorResponse(service.xmlNamespace, answer, requestId);
      return { status, xml, requestId };
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const requestId = randomUUID();
      if (size > MAX_BODY_BYTES) {
        const error = {
          type: 'Sender' as const,
          code: 'RequestEntityTooLarge',
          message: 'request body too large',
        };
        respond(res, 413, xmlErrorResponse(service.xmlNamespace, error, requestId), requestId);
        return;
      }
      void handle(req, Buffer.concat(chunks).toString('utf8')).then((answer) =>
        respond(res, answer.status, answer.xml, answer.requestId),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext(action, code, count = 1) {
      if (!(action in service.actions)) throw new Error(`no action ${action} to inject a fault into`);
      if (!Number.isInteger(count) || count < 0)
        throw new Error(`fault count must be a whole number: ${count}`);
      pendingFaults.set(action, { code, remaining: count });
    },
    requestCount: (action) => requestCounts.get(action) ?? 0,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}

interface RoutedAction {
  readonly name: string;
  readonly handler: QueryActionHandler;
  readonly params: QueryRequest['params'];
}

/** The protocol-level checks AWS makes before any action runs, in the order it makes them. */
function route(req: IncomingMessage, body: string, service: QueryServiceDefinition): RoutedAction {
  if (req.method !== 'POST') {
    throw new QueryServiceError('InvalidAction', `this local endpoint accepts POST only, not ${req.method}`);
  }
  if (req.headers.authorization === undefined) {
    throw new QueryServiceError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
  }
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    throw new QueryServiceError('MalformedQueryString', 'expected an application/x-www-form-urlencoded body');
  }
  const request = parseQueryRequest(body);
  if (request.action === undefined) {
    throw new QueryServiceError('MissingAction', 'The request must contain the parameter Action');
  }
  if (request.version !== service.version) {
    throw new QueryServiceError(
      'NoSuchVersion',
      `The requested version (${request.version ?? 'none'}) of this service does not exist`,
    );
  }
  const handler = Object.hasOwn(service.actions, request.action)
    ? service.actions[request.action]
    : undefined;
  if (handler === undefined) {
    throw new QueryServiceError(
      'InvalidAction',
      `Could not find operation ${request.action} for version ${service.version}`,
    );
  }
  return { name: request.action, handler, params: request.params };
}

function asServiceError(error: unknown): QueryServiceError {
  if (error instanceof QueryServiceError) return error;
  if (error instanceof MalformedQueryError)
    return new QueryServiceError('MalformedQueryString', error.message);
  // A bug in the emulator shows up as the service's own fault, which is what a client would see.
  const message = error instanceof Error ? error.message : String(error);
  return new QueryServiceError('InternalFailure', `local endpoint failure: ${message}`, 500);
}

function faultMessage(code: string): string {
  return /^Throttl/.test(code) ? 'Rate exceeded' : `injected fault ${code}`;
}

/**
 * A service's `authorize`: the call's IAM requests, evaluated; a refusal is answered as the Query-protocol
 * services answer it: 403 with the service's own code (SNS: AuthorizationError; ELBv2: AccessDenied), or
 * InvalidClientTokenId for a caller nobody knows.
 */
export function authorizeWith(
  authorizer: Authorizer,
  deniedCode: string,
  requestsOf: (action: string, params: QueryRequest['params']) => ServiceRequest[],
): NonNullable<QueryServiceDefinition['authorize']> {
  return async (action, params, accessKeyId) => {
    const authorization = await authorizer.authorize(accessKeyId, requestsOf(action, params));
    if (authorization.outcome === 'allowed') return;
    throw new QueryServiceError(
      authorization.outcome === 'denied' ? deniedCode : 'InvalidClientTokenId',
      authorization.message,
      403,
    );
  };
}
