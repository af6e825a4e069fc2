/**
 * A counting pass-through in front of a JSON-protocol endpoint (DynamoDB Local here): it forwards every
 * request unchanged and tallies operations, and the items a transaction or batch writes (to measure
 * what one rejuvenation costs). Faults can be armed on it: answer the next requests with an error
 * DynamoDB sends (throttling, a server error) or hold them for a while, as a real network path would.
 * With an authorizer it is also DynamoDB's IAM: a request its signer's policies do not allow is answered
 * with DynamoDB's AccessDeniedException and never reaches DynamoDB Local.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessKeyIdOf, type Authorizer } from './iam/local-iam.js';
import { dynamoDbRequests, type ArnContext } from './iam/service-requests.js';

export interface RequestCounts {
  readonly byOperation: Readonly<Record<string, number>>;
  /** Items written: 1 per Put/Update/Delete, each item of a TransactWriteItems or BatchWriteItem. */
  readonly itemsWritten: number;
}

/** What DynamoDB answers when it throttles or fails; the SDK retries both, then gives up. */
export const DYNAMODB_FAULTS = {
  throttle: { status: 400, type: 'ProvisionedThroughputExceededException' },
  serverError: { status: 500, type: 'InternalServerError' },
} as const;

export interface ArmedFault {
  readonly fault: keyof typeof DYNAMODB_FAULTS;
  /** How many matching requests get the error. */
  readonly count: number;
  /** Only these operations (e.g. TransactWriteItems); all when absent. */
  readonly operations?: readonly string[];
  /**
   * Forward the request first and answer the error instead of DynamoDB's reply: the write happened
   * but the caller cannot know, as when a response is lost on the way back.
   */
  readonly afterForwarding?: boolean;
}

export interface RunningRequestCounter {
  readonly endpoint: string;
  counts(): RequestCounts;
  reset(): void;
  /** Answers the next matching requests with the fault instead of forwarding them. */
  failNext(fault: ArmedFault): void;
  /** Holds each of the next `count` requests for `ms` before forwarding it. */
  delayNext(count: number, ms: number): void;
  /** Errors answered so far. */
  faultsAnswered(): number;
  stop(): Promise<void>;
}

const SINGLE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

export interface RequestCounterOptions {
  /** Local IAM. @default anyone may do anything */
  readonly authorizer?: Authorizer;
  /** Partition, region and account of the table ARNs IAM evaluates. */
  readonly arns?: ArnContext;
}

export async function startRequestCounter(
  target: string,
  options: RequestCounterOptions = {},
): Promise<RunningRequestCounter> {
  const arns = options.arns ?? { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };
  const upstream = new URL(target);
  let byOperation: Record<string, number> = {};
  let itemsWritten = 0;
  let armed: (ArmedFault & { left: number }) | undefined;
  let delays = { left: 0, ms: 0 };
  let answered = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? 'unknown';
      if (options.authorizer !== undefined) {
        const refused = await refusal(options.authorizer, arns, operation, body, req);
        if (refused !== undefined) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify(refused));
          return;
        }
      }
      byOperation[operation] = (byOperation[operation] ?? 0) + 1;
      if (SINGLE_WRITES.has(operation)) itemsWritten += 1;
      if (operation === 'TransactWriteItems' || operation === 'BatchWriteItem') {
        const parsed = JSON.parse(body.toString('utf8')) as {
          TransactItems?: { ConditionCheck?: unknown }[];
          RequestItems?: Record<string, unknown[]>;
        };
        itemsWritten += (parsed.TransactItems ?? []).filter((i) => i.ConditionCheck === undefined).length;
        itemsWritten += Object.values(parsed.RequestItems ?? {}).reduce((n, items) => n + items.length, 0);
      }
      if (armed !== undefined && armed.left > 0 && (armed.operations?.includes(operation) ?? true)) {
        armed.left -= 1;
        answered += 1;
        const { status, type } = DYNAMODB_FAULTS[armed.fault];
        if (armed.afterForwarding === true) await forwardAndDiscard(upstream, req, body);
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'injected fault' }),
        );
        return;
      }
      if (delays.left > 0) {
        delays.left -= 1;
        await new Promise((resolve) => setTimeout(resolve, delays.ms));
      }
      const forward = httpRequest(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      // DynamoDB unreachable: the caller sees its connection reset, as it would with no server at all
      // (a 502 with a text body is something DynamoDB never sends).
      forward.on('error', () => req.socket.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ byOperation: { ...byOperation }, itemsWritten }),
    reset: () => {
      byOperation = {};
      itemsWritten = 0;
    },
    failNext: (fault) => {
      armed = { ...fault, left: fault.count };
    },
    delayNext: (count, ms) => {
      delays = { left: count, ms };
    },
    faultsAnswered: () => answered,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** DynamoDB's answer to a request IAM refuses, or undefined when it is allowed. */
async function refusal(
  authorizer: Authorizer,
  arns: ArnContext,
  operation: string,
  body: Buffer,
  req: IncomingMessage,
): Promise<{ __type: string; Message: string } | undefined> {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    // DynamoDB Local answers a malformed body itself; IAM judges what can be read of it.
  }
  const authorization = await authorizer.authorize(
    accessKeyIdOf(req.headers.authorization),
    dynamoDbRequests(arns, operation, parsed),
  );
  if (authorization.outcome === 'allowed') return undefined;
  return authorization.outcome === 'denied'
    ? { __type: 'com.amazon.coral.service#AccessDeniedException', Message: authorization.message }
    : { __type: 'com.amazon.coral.service#UnrecognizedClientException', Message: authorization.message };
}

/** Sends the request upstream and waits for the whole reply, which nobody will see. */
function forwardAndDiscard(upstream: URL, req: IncomingMessage, body: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const forward = httpRequest(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (reply) => {
        reply.resume();
        reply.on('end', () => resolve());
      },
    );
    forward.on('error', () => resolve());
    forward.end(body);
  });
}
