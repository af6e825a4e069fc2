/**
 * Finds a command already sent by its Comment, where the senders keep their idempotency key: a retried
 * send asks this first. Only the newest `pages` of ListCommands are searched: a retry comes minutes after
 * the send it repeats, a few pages back at most, and an unbounded search would page through the account.
 */
import type { ListCommandsCommandOutput } from '@aws-sdk/client-ssm';

/** One ListCommands page after `nextToken`, filtered as the caller needs (document, instance). */
export type ListCommandsPage = (nextToken: string | undefined) => Promise<ListCommandsCommandOutput>;

export async function findCommandByComment(
  listPage: ListCommandsPage,
  comment: string,
  pages: number,
): Promise<string | undefined> {
  let nextToken: string | undefined;
  for (let page = 0; page < pages; page++) {
    const out = await listPage(nextToken);
    const match = (out.Commands ?? []).find((c) => c.Comment === comment);
    if (match?.CommandId !== undefined) return match.CommandId;
    nextToken = out.NextToken;
    if (nextToken === undefined) return undefined;
  }
  return undefined;
}
