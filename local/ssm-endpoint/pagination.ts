/** SSM's list pagination: at most MaxResults items a page, and an opaque NextToken while more remain. */
import { AwsServiceError } from '../json-protocol/aws-json-server.js';

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextToken?: string;
}

/** The page of `items` that `nextToken` points at (the first when undefined), `maxResults` long. */
export function paginate<T>(items: readonly T[], maxResults: number, nextToken: string | undefined): Page<T> {
  const start = nextToken === undefined ? 0 : decodeToken(nextToken);
  if (start > items.length)
    throw new AwsServiceError('InvalidNextToken', 'The specified token is not valid.');
  const end = start + maxResults;
  return {
    items: items.slice(start, end),
    ...(end < items.length ? { nextToken: encodeToken(end) } : {}),
  };
}

// Opaque to clients, as SSM's are; a plain offset inside. Lists served newest first grow at the front, so a
// command sent between two page requests makes the next page repeat an item, never skip one.
function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64url');
}

function decodeToken(token: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // Falls through to the refusal below.
  }
  throw new AwsServiceError('InvalidNextToken', 'The specified token is not valid.');
}
