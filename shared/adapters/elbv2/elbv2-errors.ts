/**
 * What can go wrong moving a host in or out of its target groups, in rejuv's vocabulary. The SDK has
 * already retried throttling and server faults (with backoff, up to its `maxAttempts`) before any of these
 * is thrown.
 */
import { RejuvError } from '../../domain/errors.js';
import { classifySdkError } from '../aws/sdk-error-class.js';

/** A configured target group does not exist (deleted, wrong account or region): fix the configuration. */
export class TargetGroupNotFoundError extends RejuvError {
  override readonly name = 'TargetGroupNotFoundError';
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
  override readonly name = 'InvalidLoadBalancerTargetError';
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
  override readonly name = 'LoadBalancerRequestRefusedError';
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
  override readonly name = 'LoadBalancerUnavailableError';
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
  const { operation, targetGroupArn, targetId } = context;
  if (!(error instanceof Error)) return error;
  if (error.name === 'TargetGroupNotFoundException')
    return new TargetGroupNotFoundError(targetGroupArn, { cause: error });
  if (error.name === 'InvalidTargetException')
    return new InvalidLoadBalancerTargetError(targetGroupArn, targetId, { cause: error });
  const found = classifySdkError(error);
  if (found.kind === 'unavailable')
    return new LoadBalancerUnavailableError(operation, targetGroupArn, found.code, found.detail, {
      cause: error,
    });
  if (found.kind === 'refused')
    return new LoadBalancerRequestRefusedError(operation, targetGroupArn, found.code, found.detail, {
      cause: error,
    });
  return error;
}
