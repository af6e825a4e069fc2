/**
 * The operator API behind a function URL with AuthType AWS_IAM: AWS has authenticated the caller before
 * this runs, and the caller's ARN comes from the request context, never from the body.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { RejuvError } from '../shared/domain/errors.js';
import { handleOperatorCall } from '../shared/operator/operator-api.js';
import { operatorApiDepsFromEnvironment } from './runtime/operator-api-deps.js';
import {
  errorResponse,
  jsonResponse,
  readFunctionUrlEvent,
  type FunctionUrlResponse,
} from './runtime/function-url.js';
import { logger, metrics } from './runtime/observability.js';

export async function handler(event: unknown): Promise<FunctionUrlResponse> {
  let requestId = 'unknown';
  const single = metrics.singleMetric();
  try {
    const request = readFunctionUrlEvent(event);
    requestId = request.requestId;
    if (request.method !== 'POST')
      return jsonResponse(405, { error: 'MethodNotAllowed', message: 'the operator API takes POST only' });
    const response = await handleOperatorCall(operatorApiDepsFromEnvironment(), {
      callerArn: request.callerArn,
      requestId: request.requestId,
      body: request.body,
    });
    single.addDimension('action', response.action);
    single.addMetric('OperatorApi_ok', MetricUnit.Count, 1);
    logger.info('operator request done', { response });
    return jsonResponse(200, response);
  } catch (error) {
    single.addMetric(
      error instanceof RejuvError ? `OperatorApi_${error.name}` : 'OperatorApi_failed',
      MetricUnit.Count,
      1,
    );
    if (error instanceof RejuvError) logger.warn('operator request refused', { requestId, error });
    else logger.error('operator request failed', { requestId, error: error as Error });
    return errorResponse(error, requestId);
  }
}
