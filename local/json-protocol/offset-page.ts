/**
 * One page of a listing whose NextToken is the offset of the next item (opaque to the caller, as AWS's
 * tokens are). A token that is not one of ours, or points past the list, is InvalidNextToken, as the
 * services answer a forged or stale token.
 */
import { AwsServiceError } from './aws-json-server.js';

export function offsetPage<T>(
  items: readonly T[],
  nextToken: unknown,
  pageSize: number,
): { readonly page: readonly T[]; readonly nextToken?: string } {
  const offset = nextToken === undefined ? 0 : Number(Buffer.from(String(nextToken), 'base64url').toString());
  if (!Number.isInteger(offset) || offset < 0 || offset > items.length)
    throw new AwsServiceError('InvalidNextToken', 'The service found NextToken invalid.', {
      code: 'InvalidNextToken',
      status: 400,
    });
  const end = offset + pageSize;
  return {
    page: items.slice(offset, end),
    ...(end < items.length ? { nextToken: Buffer.from(String(end)).toString('base64url') } : {}),
  };
}
