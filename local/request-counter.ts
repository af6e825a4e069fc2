/**
 * A counting pass-through in front of a JSON-protocol endpoint (DynamoDB Local here): it forwards every
 * request unchanged and tallies operations, and the items a transaction or batch writes. Used to
 * measure what one rejuvenation costs, not to change any behaviour.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestCounts {
  readonly byOperation: Readonly<Record<string, number>>;
  /** Items written: 1 per Put/Update/Delete, each item of a TransactWriteItems or BatchWriteItem. */
  readonly itemsWritten: number;
}

export interface RunningRequestCounter {
  readonly endpoint: string;
  counts(): RequestCounts;
  reset(): void;
  stop(): Promise<void>;
}

const SINGLE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

export async function startRequestCounter(target: string): Promise<RunningRequestCounter> {
  const upstream = new URL(target);
  let byOperation: Record<string, number> = {};
  let itemsWritten = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? 'unknown';
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
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
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
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
