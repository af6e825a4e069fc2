/** How SSM's errors, as the SDK throws them, become rejuv's: the name and `retryable` the workflow acts on. */
import {
  InternalServerError,
  InvalidCommandId,
  InvalidDocument,
  InvalidInstanceId,
  InvalidParameters,
  SSMServiceException,
  ThrottlingException,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import {
  HostCommandRejectedError,
  SsmUnavailableError,
  toSsmError,
  UnknownHostDocumentError,
  UnknownHostInstanceError,
} from '../../../shared/adapters/ssm/errors.js';

const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const context = { operation: 'SendCommand', instanceId: 'i-0123456789abcdef0', documentName: 'rejuv-Verify' };

describe('Function: toSsmError', () => {
  it.each([
    [
      'ThrottlingException',
      new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', ...metadata(400) }),
    ],
    ['InternalServerError', new InternalServerError({ message: 'oops', ...metadata(500) })],
    [
      'an unmodelled 503',
      new SSMServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        message: 'busy',
        ...metadata(503),
      }),
    ],
    [
      'a 429',
      new SSMServiceException({ name: 'SlowDown', $fault: 'client', message: 'slow', ...metadata(429) }),
    ],
    ['a socket timeout', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('makes %s a retryable SsmUnavailableError', (_label, error) => {
    const mapped = toSsmError(error, context);
    expect(mapped).toBeInstanceOf(SsmUnavailableError);
    expect(mapped).toMatchObject({ retryable: true, operation: 'SendCommand', cause: error });
  });

  it('makes InvalidInstanceId an UnknownHostInstanceError naming the instance, not retryable', () => {
    const mapped = toSsmError(new InvalidInstanceId({ message: 'no', ...metadata(400) }), context);
    expect(mapped).toBeInstanceOf(UnknownHostInstanceError);
    expect(mapped).toMatchObject({
      instanceId: context.instanceId,
      retryable: false,
      name: 'UnknownHostInstanceError',
    });
  });

  it('makes InvalidDocument an UnknownHostDocumentError naming the document, not retryable', () => {
    const mapped = toSsmError(new InvalidDocument({ message: 'no', ...metadata(400) }), context);
    expect(mapped).toBeInstanceOf(UnknownHostDocumentError);
    expect(mapped).toMatchObject({ documentName: 'rejuv-Verify', retryable: false });
  });

  it.each([
    ['InvalidParameters', new InvalidParameters({ message: 'word: bad', ...metadata(400) })],
    ['InvalidCommandId', new InvalidCommandId({ message: '', ...metadata(400) })],
    [
      'AccessDeniedException',
      new SSMServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: 'no',
        ...metadata(400),
      }),
    ],
  ])('makes other client errors (%s) a HostCommandRejectedError carrying the code', (code, error) => {
    const mapped = toSsmError(error, context);
    expect(mapped).toBeInstanceOf(HostCommandRejectedError);
    expect(mapped).toMatchObject({ code, retryable: false });
  });

  it('leaves errors that are not SSM or network failures as they are', () => {
    const bug = new TypeError('undefined is not a function');
    expect(toSsmError(bug, context)).toBe(bug);
    expect(toSsmError('a string', context)).toBe('a string');
  });
});
