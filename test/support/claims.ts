/**
 * Admit admits only an execution a trigger claimed with exactly its request. Use-case tests that call
 * admit directly (what Step Functions does once a trigger started the execution) claim it first, as the
 * trigger would have.
 */
import type { Store } from '../../shared/adapters/dynamodb/dynamodb-store.js';
import { admit } from '../../shared/workflow/admit.js';
import {
  RejuvenationRequestSchema,
  requestDigest,
  type RejuvenationRequestInput,
} from '../../shared/workflow/rejuvenation-request.js';
import type { WorkflowContext } from '../../shared/workflow/workflow-context.js';
import type { WorkflowDeps } from '../../shared/workflow/workflow-deps.js';

/**
 * The claims' TTL here: the longest the store takes. The use-case tests run on a ManualClock set to a
 * fixed day that real time has passed, and DynamoDB Local deletes items whose TTL is behind the real
 * clock (it did, mid-test, in CI): a claim that expires an hour after that day would vanish at random.
 */
const TEST_CLAIM_TTL_SECONDS = 366 * 24 * 3600;

/** Claims `executionName` for `request` as a trigger does; throws if another request holds the name. */
export async function claimAsTrigger(
  store: Store,
  executionName: string,
  request: RejuvenationRequestInput,
): Promise<void> {
  const digest = requestDigest(request);
  const result = await store.idempotency.claim(
    { executionName, requestDigest: digest },
    TEST_CLAIM_TTL_SECONDS,
  );
  if (!result.claimed && result.existing.requestDigest !== digest)
    throw new Error(`test setup: ${executionName} is already claimed for another request`);
}

/**
 * Admit of an execution a trigger started: claimed first when the input is a request at all (an input
 * that is not one is refused by Admit before it looks for a claim).
 */
export async function admitClaimed(
  deps: WorkflowDeps,
  executionName: string,
  input: Record<string, unknown>,
): Promise<WorkflowContext> {
  const request = RejuvenationRequestSchema.safeParse(input);
  if (request.success) await claimAsTrigger(deps.store, executionName, request.data);
  return admit(deps, executionName, input);
}
