/** Who may act on which pool: the caller's ARN as AWS reports it, matched against the construct's grants. */
import { describe, expect, it } from 'vitest';
import {
  isIdentityOf,
  mayActOnEveryPool,
  mayActOnPool,
  OperatorGrantsSchema,
  type OperatorGrant,
} from '../../../shared/operator/operator-grants.js';

const ACCOUNT = '123456789012';
const role = (name: string, path = '') => `arn:aws:iam::${ACCOUNT}:role/${path}${name}`;
const session = (name: string, s = 'alice', account = ACCOUNT) =>
  `arn:aws:sts::${account}:assumed-role/${name}/${s}`;
const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

const grants: OperatorGrant[] = [
  { principals: [role('WebOps')], pools: ['web'] },
  { principals: [user('bob'), role('DbOps', 'teams/')], pools: ['db', 'cache'] },
  { principals: [role('Platform')], pools: ['*'] },
];

describe('Operator grants', () => {
  it('a role covers its assumed-role sessions, whatever the session name and the role path', () => {
    expect(isIdentityOf(role('WebOps'), session('WebOps', 'alice'))).toBe(true);
    expect(isIdentityOf(role('WebOps'), session('WebOps', 'mallory'))).toBe(true);
    expect(isIdentityOf(role('DbOps', 'teams/'), session('DbOps'))).toBe(true);
  });

  it('but not another role, another account, a role named like a prefix, or a user of the same name', () => {
    expect(isIdentityOf(role('WebOps'), session('WebOpsAdmin'))).toBe(false);
    expect(isIdentityOf(role('WebOps'), session('WebOps', 'alice', '210987654321'))).toBe(false);
    expect(isIdentityOf(role('WebOps'), user('WebOps'))).toBe(false);
    expect(isIdentityOf(user('bob'), session('bob'))).toBe(false);
    expect(isIdentityOf(role('WebOps'), `arn:aws-cn:sts::${ACCOUNT}:assumed-role/WebOps/alice`)).toBe(false);
  });

  it('a user matches only itself', () => {
    expect(isIdentityOf(user('bob'), user('bob'))).toBe(true);
    expect(isIdentityOf(user('bob'), user('bobby'))).toBe(false);
  });

  it('each caller may act on the pools of every grant naming them, and nothing else', () => {
    expect(mayActOnPool(grants, session('WebOps'), 'web')).toBe(true);
    expect(mayActOnPool(grants, session('WebOps'), 'db')).toBe(false);
    expect(mayActOnPool(grants, user('bob'), 'cache')).toBe(true);
    expect(mayActOnPool(grants, user('bob'), 'web')).toBe(false);
    expect(mayActOnPool(grants, session('Platform'), 'anything')).toBe(true);
    expect(mayActOnPool(grants, user('eve'), 'web')).toBe(false);
  });

  it('only a grant on * covers every pool (what a sync needs)', () => {
    expect(mayActOnEveryPool(grants, session('Platform'))).toBe(true);
    expect(mayActOnEveryPool(grants, user('bob'))).toBe(false);
  });

  it('refuses grants that are not IAM user or role ARNs, or name no pool', () => {
    for (const bad of [
      [{ principals: ['*'], pools: ['web'] }],
      [{ principals: [session('WebOps')], pools: ['web'] }],
      [{ principals: ['arn:aws:iam::123:role/x'], pools: ['web'] }],
      [{ principals: [role('WebOps')], pools: [] }],
      [{ principals: [role('WebOps')], pools: ['no spaces'] }],
      [{ principals: [], pools: ['web'] }],
      [{ principals: [role('WebOps')], pools: ['web'], extra: true }],
    ])
      expect(OperatorGrantsSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    expect(OperatorGrantsSchema.safeParse(grants).success).toBe(true);
  });
});
