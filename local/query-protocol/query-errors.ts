/**
 * Errors inside the local Query-protocol endpoints. They never reach rejuv's code as themselves: the server
 * turns each into the XML error response AWS would send, and the SDK client turns that into its own
 * exception, exactly as against the real service.
 */
import { RejuvError } from '../../shared/domain/errors.js';

/**
 * An error the emulated service answers with. Without `httpStatus` the service's table decides (SNS sends
 * NotFound as 404, most codes are 400).
 */
export class QueryServiceError extends RejuvError {
  override readonly name = 'QueryServiceError';
  /** Retryable as the SDK judges it: throttling, or the service's own fault. */
  readonly retryable: boolean;
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.retryable = /^Throttl/.test(code) || (httpStatus ?? 400) >= 500 || httpStatus === 429;
  }
}

/** The form body itself is malformed (repeated or clashing keys, badly numbered list members). */
export class MalformedQueryError extends RejuvError {
  override readonly name = 'MalformedQueryError';
  readonly retryable = false;
}
