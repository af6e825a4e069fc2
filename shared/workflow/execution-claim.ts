/**
 * Whether a trigger stands behind an execution. Anyone allowed StartExecution can start the state
 * machine with any input, naming any principal; only the triggers write claims. An execution is
 * believed only when a claim names it and holds the digest of exactly the request it carries.
 */
import type { UnclaimedFinding } from '../domain/errors.js';
import type { ExecutionClaim } from '../ports/idempotency-store.js';
import { requestDigest, type RejuvenationRequest } from './rejuvenation-request.js';

export type ClaimVerdict =
  { readonly claimed: true } | { readonly claimed: false; readonly finding: UnclaimedFinding };

export function judgeExecutionClaim(
  executionName: string,
  request: RejuvenationRequest,
  claim: ExecutionClaim | undefined,
): ClaimVerdict {
  if (claim === undefined || claim.executionName !== executionName)
    return { claimed: false, finding: 'no-claim' };
  if (claim.requestDigest !== requestDigest(request)) return { claimed: false, finding: 'request-differs' };
  return { claimed: true };
}
