/** One classification of SDK errors for every adapter: which are worth a later retry, which are refusals. */
import { ThrottledException } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { classifySdkError } from '../../../shared/adapters/aws/sdk-error-class.js';

/** An error shaped as the SDK throws it, for services whose exception classes are not imported here. */
function sdkError(
  name: string,
  fields: { fault?: 'client' | 'server'; status?: number; code?: string } = {},
) {
  return Object.assign(new Error(`${name} happened`), {
    name,
    ...(fields.fault === undefined ? {} : { $fault: fields.fault }),
    ...(fields.status === undefined ? {} : { $metadata: { httpStatusCode: fields.status } }),
    ...(fields.code === undefined ? {} : { code: fields.code }),
  });
}

describe('Function: classifySdkError', () => {
  it.each([
    [
      'SNS throttling',
      new ThrottledException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }),
      'ThrottledException',
    ],
    ['ELBv2 throttling', sdkError('Throttling', { fault: 'client', status: 400 }), 'Throttling'],
    [
      'KMS throttling behind SNS',
      sdkError('KMSThrottlingException', { fault: 'client', status: 400 }),
      'KMSThrottlingException',
    ],
    [
      'EC2-style request limit',
      sdkError('RequestLimitExceeded', { fault: 'client', status: 503 }),
      'RequestLimitExceeded',
    ],
    ['a bare 429', sdkError('SomethingNew', { fault: 'client', status: 429 }), 'SomethingNew'],
    [
      'a modelled server fault at any status',
      sdkError('InternalError', { fault: 'server', status: 400 }),
      'InternalError',
    ],
    ['an unmodelled 502', sdkError('Unknown', { status: 502 }), 'Unknown'],
    ['a reset connection', sdkError('Error', { code: 'ECONNRESET' }), 'ECONNRESET'],
    ['an SDK timeout', sdkError('TimeoutError'), 'TimeoutError'],
  ])('%s is unavailable (retry later), keeping its code', (_what, error, code) => {
    expect(classifySdkError(error)).toEqual({ kind: 'unavailable', code, detail: error.message });
  });

  it.each([
    ['access denied', sdkError('AccessDeniedException', { fault: 'client', status: 400 })],
    ['a parameter SSM refuses', sdkError('InvalidParameters', { fault: 'client', status: 400 })],
    ['a tag quota', sdkError('TooManyTagsException', { fault: 'client', status: 400 })],
  ])('%s is a refusal no retry will change', (_what, error) => {
    expect(classifySdkError(error)).toEqual({ kind: 'refused', code: error.name, detail: error.message });
  });

  it.each([
    ['a bug', new TypeError('cannot read properties of undefined')],
    ['an unknown local error code', sdkError('Error', { code: 'EACCES' })],
    ['not an Error at all', 'ECONNRESET'],
    ['nothing', undefined],
  ])('%s is not disguised as a service problem', (_what, error) => {
    expect(classifySdkError(error)).toEqual({ kind: 'other' });
  });
});
