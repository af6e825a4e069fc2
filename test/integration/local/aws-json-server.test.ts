/** The local AWS JSON-protocol server on the wire: answers, errors as the SDK reads them, and clients that go away. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AwsServiceError,
  startAwsJsonServer,
  type RunningAwsJsonServer,
} from '../../../local/json-protocol/aws-json-server.js';

let server: RunningAwsJsonServer;

beforeAll(async () => {
  server = await startAwsJsonServer({
    targetPrefix: 'Test',
    jsonVersion: '1.1',
    operations: {
      Echo: (body) => ({ got: body }),
      Later: async (body) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { later: body['n'] };
      },
      Refuse: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new AwsServiceError('InvalidThing', 'no such thing');
      },
    },
  });
});

afterAll(async () => {
  await server.stop();
});

function post(target: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.endpoint}/`,
      { method: 'POST', headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Function: startAwsJsonServer', () => {
  it('answers an operation with its result, awaiting one that is async', async () => {
    expect(await post('Test.Echo', '{"a":1}')).toEqual({ status: 200, json: { got: { a: 1 } } });
    expect(await post('Test.Later', '{"n":7}')).toEqual({ status: 200, json: { later: 7 } });
  });

  it('answers a service error as the SDK names it, from an async operation too', async () => {
    expect(await post('Test.Refuse', '{}')).toEqual({
      status: 400,
      json: { __type: 'InvalidThing', message: 'no such thing' },
    });
  });

  it.each([
    ['not JSON', '{"a":'],
    ['not an object', '[1,2]'],
  ])('refuses a body that is %s as a client error (400), not a server fault', async (_what, body) => {
    const answer = await post('Test.Echo', body);
    expect(answer).toMatchObject({ status: 400, json: { __type: 'SerializationException' } });
  });

  it('names an operation it does not emulate', async () => {
    expect(await post('Test.Nope', '{}')).toMatchObject({
      status: 400,
      json: { __type: 'UnknownOperationException', message: 'operation Nope is not emulated' },
    });
  });

  it('keeps serving after a client goes away in the middle of its request', async () => {
    await new Promise<void>((resolve) => {
      const req = request(`${server.endpoint}/`, {
        method: 'POST',
        headers: { 'x-amz-target': 'Test.Echo', 'content-length': '1000' },
      });
      req.on('error', () => resolve());
      req.write('{"partial":', () => {
        req.destroy();
        setTimeout(resolve, 50);
      });
    });
    expect(await post('Test.Echo', '{}')).toEqual({ status: 200, json: { got: {} } });
  });
});
