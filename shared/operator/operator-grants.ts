/**
 * Who may act on which pools through the operator API. The grants come from the construct's props; the
 * caller's identity is the ARN AWS authenticated (the function URL's request context), never a field the
 * caller sent.
 */
import { z } from 'zod';
import { PoolIdSchema } from '../domain/identifiers.js';

/** All pools: the only grant that may sync the whole registry. */
export const ANY_POOL = '*';

/** An IAM user or role ARN: `arn:<partition>:iam::<account>:user|role/[path/]name`. */
const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(user|role)\/([A-Za-z0-9+=,.@_/-]{1,512})$/;

export const OperatorGrantSchema = z.strictObject({
  /** IAM user or role ARNs; a role also covers every session assumed from it. */
  principals: z
    .array(
      z
        .string()
        .regex(IAM_PRINCIPAL_ARN, 'principal: an IAM user or role ARN (arn:aws:iam::ACCOUNT:role/NAME)'),
    )
    .min(1, 'principals: at least one'),
  /** Pool ids, or `*` for every pool. */
  pools: z.array(z.union([z.literal(ANY_POOL), PoolIdSchema])).min(1, 'pools: at least one'),
});

export type OperatorGrant = z.output<typeof OperatorGrantSchema>;

export const OperatorGrantsSchema = z.array(OperatorGrantSchema).max(100, 'at most 100 operator grants');

/**
 * Whether `callerArn` (as AWS reports it: `…:user/NAME` for a user, `…:sts::ACCOUNT:assumed-role/ROLE/SESSION`
 * for a role session) is one of `principal`'s identities. An assumed-role ARN drops the role's path, so a
 * role granted with a path matches on account and name.
 */
export function isIdentityOf(principal: string, callerArn: string): boolean {
  if (principal === callerArn) return true;
  const granted = IAM_PRINCIPAL_ARN.exec(principal);
  if (granted === null || granted[1] !== 'role') return false;
  const [, partition = '', account = ''] = /^arn:([^:]+):iam::(\d{12}):/.exec(principal) ?? [];
  const roleName = (granted[2] ?? '').split('/').pop();
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(callerArn);
  return session !== null && session[1] === partition && session[2] === account && session[3] === roleName;
}

/** The pools `callerArn` may act on: pool ids, possibly including ANY_POOL. */
export function poolsOf(grants: readonly OperatorGrant[], callerArn: string): ReadonlySet<string> {
  const pools = new Set<string>();
  for (const grant of grants)
    if (grant.principals.some((p) => isIdentityOf(p, callerArn)))
      for (const pool of grant.pools) pools.add(pool);
  return pools;
}

export function mayActOnPool(grants: readonly OperatorGrant[], callerArn: string, pool: string): boolean {
  const pools = poolsOf(grants, callerArn);
  return pools.has(ANY_POOL) || pools.has(pool);
}

/** Syncing touches every pool's hosts: only a grant on every pool may ask for it. */
export function mayActOnEveryPool(grants: readonly OperatorGrant[], callerArn: string): boolean {
  return poolsOf(grants, callerArn).has(ANY_POOL);
}
