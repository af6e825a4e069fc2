/**
 * The campaign machine's approval step (campaign-approval.ts): invoked with a task token, it stores the
 * token and asks for a decision; invoked after the wait timed out, it records the expiry.
 */
import { awaitApproval, expireApproval } from '../shared/campaign/campaign-approval.js';
import { approvalStepDepsFromEnvironment } from './runtime/campaign-deps.js';
import { toStepError } from './runtime/step-errors.js';

export async function handler(event: unknown): Promise<unknown> {
  try {
    const deps = approvalStepDepsFromEnvironment();
    const expired = typeof event === 'object' && event !== null && 'expired' in event;
    return await (expired ? expireApproval(deps, event) : awaitApproval(deps, event));
  } catch (error) {
    throw toStepError(error);
  }
}
