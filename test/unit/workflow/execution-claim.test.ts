import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/domain/errors.js';
import { judgeExecutionClaim } from '../../../shared/workflow/execution-claim.js';
import {
  RejuvenationRequestSchema,
  requestDigest,
  type RejuvenationRequest,
} from '../../../shared/workflow/rejuvenation-request.js';

const request: RejuvenationRequest = RejuvenationRequestSchema.parse({
  hostId: 'host-1',
  trigger: 'operator',
  principal: 'arn:aws:iam::123456789012:user/alice',
  reason: 'planned: uptime 180 days',
});
const NAME = 'op-host-1-4c05a94c20a6cb75';
const claimFor = (r: RejuvenationRequest, executionName = NAME) => ({
  executionName,
  requestDigest: requestDigest(r),
});

describe('Function: requestDigest', () => {
  it('is one digest per request, whatever the member order, the defaults left out or spaces trimmed', () => {
    const explicit = { ...request };
    const reordered = Object.fromEntries(Object.entries(request).reverse()) as RejuvenationRequest;
    expect(requestDigest(reordered)).toBe(requestDigest(explicit));
    expect(
      requestDigest({
        hostId: 'host-1',
        trigger: 'operator',
        principal: 'arn:aws:iam::123456789012:user/alice',
        reason: '  planned: uptime 180 days ',
      }),
    ).toBe(requestDigest(explicit));
  });

  it.each<[string, Partial<RejuvenationRequest>]>([
    ['principal', { principal: 'arn:aws:iam::123456789012:user/mallory' }],
    ['host', { hostId: 'host-2' }],
    ['trigger', { trigger: 'alarm' }],
    ['reason', { reason: 'planned: uptime 181 days' }],
    ['level', { level: 'kernel' }],
    ['dry run', { dryRun: true }],
    ['silent guests allowed', { allowSilentGuests: true }],
  ])('changes with the %s', (_field, change) => {
    expect(requestDigest({ ...request, ...change })).not.toBe(requestDigest(request));
  });

  it('refuses what is not a request', () => {
    expect(() => requestDigest({ ...request, extra: 1 } as RejuvenationRequest)).toThrow(ValidationError);
  });
});

describe('Function: judgeExecutionClaim', () => {
  it('believes an execution whose claim names it and holds the digest of exactly its request', () => {
    expect(judgeExecutionClaim(NAME, request, claimFor(request))).toEqual({ claimed: true });
  });

  it('refuses an execution no trigger claimed', () => {
    expect(judgeExecutionClaim(NAME, request, undefined)).toEqual({ claimed: false, finding: 'no-claim' });
  });

  it('refuses a claim that names another execution', () => {
    expect(judgeExecutionClaim(NAME, request, claimFor(request, 'op-host-1-0000000000000000'))).toEqual({
      claimed: false,
      finding: 'no-claim',
    });
  });

  it('refuses an execution whose input is not the request its trigger claimed (a forged principal)', () => {
    const forged = { ...request, principal: 'arn:aws:iam::123456789012:role/admin' };
    expect(judgeExecutionClaim(NAME, forged, claimFor(request))).toEqual({
      claimed: false,
      finding: 'request-differs',
    });
    expect(judgeExecutionClaim(NAME, { ...request, dryRun: true }, claimFor(request))).toMatchObject({
      claimed: false,
    });
  });
});
