/**
 * What can go wrong moving a host in or out of its target groups, in rejuv's vocabulary. The SDK has
 * already retried throttling and server faults (with backoff, up to its `maxAttempts`) before any of these
 * is thrown.
 */
import { RejuvError } from '../../domain/errors.js';

/** A configured target group does not exist (deleted, wrong account or region): fix the configuration. */
export class TargetGroupNotFoundError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly targetGroupArn: string,
    options?: { cause?: unknown },
  ) {
    super(`target group ${targetGroupArn} does not exist`, options);
  }
}

/** The load balancer does not know the host's target id (wrong id mapping, other VPC, stopped instance). */
export class InvalidLoadBalancerTargetError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly targetGroupArn: string,
    readonly targetId: string,
    options?: { cause?: unknown },
  ) {
    super(`target ${targetId} is not valid for target group ${targetGroupArn}`, options);
  }
}

/** ELBv2 refused a call for a reason a retry will not change (permissions, tag quota, a parameter). */
export class LoadBalancerRequestRefusedError extends RejuvError {
  readonly retryable = false;
  constructor(
    readonly operation: string,
    readonly targetGroupArn: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} on ${targetGroupArn} was refused (${code}): ${detail}`, options);
  }
}

/** ELBv2 throttled, failed on its side, or could not be reached, even after the SDK's own retries. */
export class LoadBalancerUnavailableError extends RejuvError {
  readonly retryable = true;
  constructor(
    readonly operation: string,
    readonly targetGroupArn: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} on ${targetGroupArn} did not go through (${code}): ${detail}`, options);
  }
}

/** ELBv2's throttling code is `Throttling`; the SDK names the exception after it. */
const THROTTLING_NAMES = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded']);
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface SdkErrorShape {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
}

export interface Elbv2CallContext {
  readonly operation: string;
  readonly targetGroupArn: string;
  readonly targetId: string;
}

/**
 * Maps an error from an ELBv2 command to rejuv's errors; anything that is not an ELBv2 or network failure
 * (a bug, say) is returned unchanged, so it is never disguised as a service problem.
 */
export function toElbv2Error(error: unknown, context: Elbv2CallContext): unknown {
  if (!(error instanceof Error)) return error;
  const e = error as SdkErrorShape & Error;
  const status = e.$metadata?.httpStatusCode;
  const { operation, targetGroupArn, targetId } = context;
  if (e.name === 'TargetGroupNotFoundException')
    return new TargetGroupNotFoundError(targetGroupArn, { cause: error });
  if (e.name === 'InvalidTargetException') {
    return new InvalidLoadBalancerTargetError(targetGroupArn, targetId, { cause: error });
  }
  if (THROTTLING_NAMES.has(e.name) || status === 429 || e.$fault === 'server' || (status ?? 0) >= 500) {
    return new LoadBalancerUnavailableError(operation, targetGroupArn, e.name, e.message, { cause: error });
  }
  if (e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_ERROR_CODES.has(e.code))) {
    return new LoadBalancerUnavailableError(operation, targetGroupArn, e.code ?? e.name, e.message, {
      cause: error,
    });
  }
  if (e.$fault === 'client') {
    return new LoadBalancerRequestRefusedError(operation, targetGroupArn, e.name, e.message, {
      cause: error,
    });
  }
  return error;
}
