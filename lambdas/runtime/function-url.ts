/**
 * The HTTP side of a function URL with AuthType AWS_IAM: what AWS hands the function (payload format 2.0,
 * the caller's ARN in requestContext.authorizer.iam) and how answers and rejuv's errors become responses.
 */
import { z } from 'zod';
import { RejuvError, ValidationError } from '../../shared/domain/errors.js';
import { parseWith } from '../../shared/domain/validation.js';

/** Only the fields the operator API reads; AWS sends more. */
export const FunctionUrlEventSchema = z.looseObject({
  version: z.literal('2.0'),
  body: z.string().optional(),
  isBase64Encoded: z.boolean(),
  requestContext: z.looseObject({
    requestId: z.string().min(1),
    http: z.looseObject({ method: z.string() }),
    authorizer: z.looseObject({
      iam: z.looseObject({ userArn: z.string().min(1) }),
    }),
  }),
});

export interface FunctionUrlRequest {
  readonly method: string;
  readonly callerArn: string;
  readonly requestId: string;
  /** The body parsed as JSON. */
  readonly body: unknown;
}

export interface FunctionUrlResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The event as the operator API reads it; a body that is not JSON is a ValidationError (400). */
export function readFunctionUrlEvent(event: unknown): FunctionUrlRequest {
  const parsed = parseWith(FunctionUrlEventSchema, 'function URL event', event);
  const raw =
    parsed.body === undefined
      ? ''
      : parsed.isBase64Encoded
        ? Buffer.from(parsed.body, 'base64').toString('utf8')
        : parsed.body;
  let body: unknown;
  try {
    body = raw === '' ? undefined : JSON.parse(raw);
  } catch {
    throw new ValidationError('operator request', ['(root): the request body is not JSON']);
  }
  return {
    method: parsed.requestContext.http.method,
    callerArn: parsed.requestContext.authorizer.iam.userArn,
    requestId: parsed.requestContext.requestId,
    body,
  };
}

export function jsonResponse(statusCode: number, payload: unknown): FunctionUrlResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  };
}

/** HTTP status per rejuv error: the caller's mistake (4xx) or ours (500). */
const STATUS_OF_ERROR: Readonly<Record<string, number>> = {
  ValidationError: 400,
  NotAuthorizedError: 403,
  HostNotFoundError: 404,
  HostAlreadyRegisteredError: 409,
  HostNotInServiceError: 409,
  HostOwnedByExecutionError: 409,
  HostNotQuarantinedError: 409,
  HostUnavailableError: 409,
  ReleaseCheckFailedError: 409,
  LeaseLostError: 409,
  IllegalTransitionError: 409,
  StaleHostStateError: 409,
  LockHeldError: 409,
  PoolFullError: 409,
  PreflightRefusedError: 409,
  HostCommandFailedError: 409,
  HostCommandTimeoutError: 504,
  CampaignNotFoundError: 404,
  CampaignExistsError: 409,
  CampaignTransitionError: 409,
  CampaignApprovalError: 409,
};

/**
 * rejuv's errors are answered with their name and message (they say what the caller must change); any
 * other error is ours and says only that it happened, with the request id to find it in the logs.
 */
export function errorResponse(error: unknown, requestId: string): FunctionUrlResponse {
  if (error instanceof RejuvError) {
    const status = STATUS_OF_ERROR[error.name] ?? (error.retryable ? 503 : 500);
    return jsonResponse(status, { error: error.name, message: error.message, retryable: error.retryable });
  }
  return jsonResponse(500, {
    error: 'InternalError',
    message: `the operator API failed; request ${requestId} in its logs says why`,
    retryable: true,
  });
}
