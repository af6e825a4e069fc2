/**
 * Fault seams for the local SSM, outside the code under test: the next requests of an operation fail with
 * a chosen SSM error, and every request is counted, so a test can tell the SDK's own retries from the
 * adapter's.
 */
import { AwsServiceError, type JsonCaller, type JsonOperation } from '../json-protocol/aws-json-server.js';

/** Errors SSM sends as HTTP 500; every other code goes out as a 400 client error. */
const SERVER_ERRORS: ReadonlySet<string> = new Set(['InternalServerError']);

export class RequestFaults {
  private readonly pending = new Map<string, { code: string; remaining: number }>();
  private readonly counts = new Map<string, number>();

  /**
   * The next `count` requests for `operation` fail with `code` (replacing any fault still pending for it);
   * each attempt the SDK makes, retries included, takes one.
   */
  failNext(operation: string, code: string, count = 1): void {
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`count must be a positive integer, got ${count}`);
    this.pending.set(operation, { code, remaining: count });
  }

  /** Requests received for `operation` so far, failed ones included. */
  requestCount(operation: string): number {
    return this.counts.get(operation) ?? 0;
  }

  /** Wraps each operation so that it is counted and fails while a fault is pending for it. */
  wrap(operations: Readonly<Record<string, JsonOperation>>): Record<string, JsonOperation> {
    return Object.fromEntries(
      Object.entries(operations).map(([name, operation]) => [
        name,
        (body: Record<string, unknown>, caller: JsonCaller) => {
          this.counts.set(name, this.requestCount(name) + 1);
          const fault = this.pending.get(name);
          if (fault === undefined || fault.remaining === 0) return operation(body, caller);
          fault.remaining -= 1;
          // The JSON server answers any error that is not an AwsServiceError as a 500 InternalServerError.
          if (SERVER_ERRORS.has(fault.code)) throw new Error('injected fault: internal server error');
          throw new AwsServiceError(fault.code, `injected fault: ${fault.code}`);
        },
      ]),
    );
  }
}
