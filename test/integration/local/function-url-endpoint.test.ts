/**
 * The local function URL authenticates and authorizes as Lambda does for AuthType AWS_IAM: requests
 * signed by the CLI's signer (the SDK's SignatureV4) reach the function with the signer's ARN in the
 * event; unsigned, tampered, wrongly signed, stale or unauthorized requests get 403 and never reach it.
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedFetch, signRequest, withoutHost } from '../../../cli/signed-request.js';
import {
  startLocalFunctionUrlEndpoint,
  type FunctionUrlEvent,
  type RunningLocalFunctionUrl,
} from '../../../local/function-url-endpoint.js';
import { LocalIam, type LocalIdentity, type PolicyDocument } from '../../../local/iam/local-iam.js';
import { LambdaFunctionError } from '../../../local/lambda-runtime/local-lambda-runtime.js';

const ACCOUNT = '000000000000';
const REGION = 'local';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:OperatorApi`;
const userArn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

/** What `grantInvokeUrl` writes into the function's policy for a principal. */
const urlGrant = (principal: string) => [
  {
    Effect: 'Allow',
    Principal: { AWS: principal },
    Action: 'lambda:InvokeFunctionUrl',
    Resource: FUNCTION_ARN,
    Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
  },
  {
    Effect: 'Allow',
    Principal: { AWS: principal },
    Action: 'lambda:InvokeFunction',
    Resource: FUNCTION_ARN,
    Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
  },
];
const resourcePolicy: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    ...urlGrant(userArn('alice')),
    ...urlGrant(userArn('mallory')),
    ...urlGrant(`arn:aws:iam::${ACCOUNT}:role/OperatorRole`),
  ],
};
const identityAllows: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction'],
      Resource: FUNCTION_ARN,
    },
  ],
};
const identityDenies: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Action: 'lambda:*', Resource: '*' }],
};

let iam: LocalIam;
let url: RunningLocalFunctionUrl;
const events: FunctionUrlEvent[] = [];
let respond: (event: FunctionUrlEvent) => Promise<unknown> = async () => ({ ok: true });
let alice: LocalIdentity;

beforeAll(async () => {
  iam = new LocalIam(ACCOUNT);
  alice = iam.createUser('alice', []);
  url = await startLocalFunctionUrlEndpoint({
    functionArn: FUNCTION_ARN,
    region: REGION,
    iam,
    resourcePolicy,
    invoke: async (event) => {
      events.push(event);
      return respond(event);
    },
  });
});

afterAll(async () => {
  await url?.close();
});

/** Runs `send` and returns its response with the events the function received meanwhile. */
async function call(
  send: () => Promise<Response>,
): Promise<{ response: Response; reached: FunctionUrlEvent[] }> {
  const before = events.length;
  const response = await send();
  return { response, reached: events.slice(before) };
}

const body = JSON.stringify({ action: 'start', hostId: 'host-1', reason: 'planned' });

describe('Local function URL: authentication', () => {
  it('passes a request signed by an allowed user to the function, naming the user', async () => {
    respond = async () => ({ ok: true });
    const { response, reached } = await call(() => signedFetch(url.url, body, alice, REGION));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(reached).toHaveLength(1);
    expect(reached[0]).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/',
      rawQueryString: '',
      body,
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json' },
      requestContext: {
        accountId: ACCOUNT,
        authorizer: {
          iam: {
            accessKey: alice.accessKeyId,
            accountId: ACCOUNT,
            callerId: expect.stringMatching(/^AIDA/),
            cognitoIdentity: null,
            principalOrgId: null,
            userArn: userArn('alice'),
            userId: expect.stringMatching(/^AIDA/),
          },
        },
        http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
        routeKey: '$default',
        stage: '$default',
        timeEpoch: expect.any(Number),
        time: expect.stringMatching(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/),
      },
    });
  });

  it('refuses an unsigned request with 403 Forbidden, and the function is not invoked', async () => {
    const { response, reached } = await call(() =>
      fetch(url.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ Message: 'Forbidden' });
    expect(reached).toEqual([]);
  });

  it('refuses a body changed after signing', async () => {
    const signed = await signRequest(url.url, body, alice, REGION);
    const tampered = body.replace('host-1', 'host-2');
    const { response, reached } = await call(() =>
      fetch(signed.url, { method: 'POST', headers: withoutHost(signed.headers), body: tampered }),
    );
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
    expect(url.requests().at(-1)?.reason).toMatch(/x-amz-content-sha256 is not the hash of the body/);
  });

  it('verifies a signer that does not send x-amz-content-sha256 (as botocore) over the body itself', async () => {
    // The SDK's signer with the body hash kept out of the headers: the hash is only in the canonical request.
    const sign = (payload: string) =>
      new SignatureV4({
        credentials: alice,
        region: REGION,
        service: 'lambda',
        sha256: Sha256,
        applyChecksum: false,
      }).sign({
        method: 'POST',
        protocol: 'http:',
        hostname: new URL(url.url).host,
        path: '/',
        headers: { host: new URL(url.url).host, 'content-type': 'application/json' },
        body: payload,
      });
    const signed = await sign(body);
    const headers = withoutHost(
      Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, String(v)])),
    );
    expect(headers['x-amz-content-sha256']).toBeUndefined();
    const honest = await call(() => fetch(url.url, { method: 'POST', headers, body }));
    expect(honest.response.status).toBe(200);
    const tampered = await call(() =>
      fetch(url.url, { method: 'POST', headers, body: body.replace('host-1', 'host-2') }),
    );
    expect(tampered.response.status).toBe(403);
    expect(tampered.reached).toEqual([]);
    expect(url.requests().at(-1)?.reason).toBe('the signature does not match');
  });

  it('refuses a signature made with the wrong secret', async () => {
    const forged = { accessKeyId: alice.accessKeyId, secretAccessKey: 'not-the-secret' };
    const { response, reached } = await call(() => signedFetch(url.url, body, forged, REGION));
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ Message: 'Forbidden' });
    expect(reached).toEqual([]);
    expect(url.requests().at(-1)?.reason).toBe('the signature does not match');
  });

  it('refuses an access key IAM does not know', async () => {
    const stranger = { accessKeyId: 'AKIA0000000000000000', secretAccessKey: 'x' };
    const { response, reached } = await call(() => signedFetch(url.url, body, stranger, REGION));
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('refuses a signature dated more than 5 minutes ago', async () => {
    const stale = new Date(Date.now() - 6 * 60 * 1000);
    const { response, reached } = await call(() =>
      signedFetch(url.url, body, alice, REGION, { signingDate: stale }),
    );
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
    expect(url.requests().at(-1)?.reason).toMatch(/more than 5 minutes/);
  });

  it('refuses a signature for another region', async () => {
    const { response, reached } = await call(() => signedFetch(url.url, body, alice, 'eu-west-1'));
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
  });
});

describe('Local function URL: authorization', () => {
  it('refuses a user neither the resource policy nor an identity policy allows', async () => {
    const stranger = iam.createUser('stranger', []);
    const { response, reached } = await call(() => signedFetch(url.url, body, stranger, REGION));
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ Message: 'Forbidden' });
    expect(reached).toEqual([]);
    expect(url.requests().at(-1)).toMatchObject({
      principalArn: userArn('stranger'),
      reason: expect.stringContaining('lambda:InvokeFunctionUrl'),
    });
  });

  it('lets an identity policy alone allow a user the resource policy does not name', async () => {
    const bob = iam.createUser('bob', [identityAllows]);
    const { response, reached } = await call(() => signedFetch(url.url, body, bob, REGION));
    expect(response.status).toBe(200);
    expect(reached[0]?.requestContext.authorizer.iam.userArn).toBe(userArn('bob'));
  });

  it('lets an explicit Deny in an identity policy win over the resource policy that allows', async () => {
    const mallory = iam.createUser('mallory', [identityDenies]);
    const { response, reached } = await call(() => signedFetch(url.url, body, mallory, REGION));
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('refuses a user allowed lambda:InvokeFunctionUrl only: a function URL needs lambda:InvokeFunction too', async () => {
    const half = iam.createUser('half', [
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunctionUrl', Resource: FUNCTION_ARN }],
      },
    ]);
    const { response, reached } = await call(() => signedFetch(url.url, body, half, REGION));
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('passes a session of a role the resource policy names, with the assumed-role ARN as userArn', async () => {
    const session = iam.assumeRole('OperatorRole', 'ops-laptop', []);
    const { response, reached } = await call(() => signedFetch(url.url, body, session, REGION));
    expect(response.status).toBe(200);
    expect(reached[0]?.requestContext.authorizer.iam).toMatchObject({
      accessKey: session.accessKeyId,
      userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/OperatorRole/ops-laptop`,
      userId: expect.stringMatching(/^AROA[0-9A-F]+:ops-laptop$/),
    });
  });

  it('refuses a role session whose token is missing', async () => {
    const session = iam.assumeRole('OperatorRole', 'no-token', []);
    const withoutToken = { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey };
    const { response, reached } = await call(() => signedFetch(url.url, body, withoutToken, REGION));
    expect(response.status).toBe(403);
    expect(reached).toEqual([]);
  });
});

describe('Local function URL: the function’s response', () => {
  it('answers with the status, headers, body and cookies of a response object', async () => {
    respond = async () => ({
      statusCode: 409,
      headers: { 'Content-Type': 'application/json', 'X-Rejuv': 'yes' },
      body: JSON.stringify({ error: 'HostStateConflictError', message: 'host-1 is DRAINING' }),
      cookies: ['a=1', 'b=2'],
    });
    const response = await signedFetch(url.url, body, alice, REGION);
    expect(response.status).toBe(409);
    expect(response.headers.get('x-rejuv')).toBe('yes');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ error: 'HostStateConflictError', message: 'host-1 is DRAINING' });
  });

  it('decodes a base64 body', async () => {
    respond = async () => ({
      statusCode: 200,
      headers: { 'content-type': 'text/plain' },
      body: Buffer.from('binary ok').toString('base64'),
      isBase64Encoded: true,
    });
    const response = await signedFetch(url.url, body, alice, REGION);
    expect(await response.text()).toBe('binary ok');
  });

  it('answers anything without statusCode as 200 with its JSON', async () => {
    respond = async () => 'Hello, world!';
    const response = await signedFetch(url.url, body, alice, REGION);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe('"Hello, world!"');
  });

  it('answers a function error with 502', async () => {
    respond = async () => {
      throw new LambdaFunctionError('TypeError', 'boom');
    };
    const response = await signedFetch(url.url, body, alice, REGION);
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ Message: 'Internal Server Error' });
  });

  it('answers a malformed response object with 502', async () => {
    respond = async () => ({ statusCode: 'teapot' });
    const response = await signedFetch(url.url, body, alice, REGION);
    expect(response.status).toBe(502);
  });

  it('refuses a body over 6 MB with 413 before invoking anything', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(6_300_000) });
    const { response, reached } = await call(() => signedFetch(url.url, big, alice, REGION));
    expect(response.status).toBe(413);
    expect(reached).toEqual([]);
  });
});
