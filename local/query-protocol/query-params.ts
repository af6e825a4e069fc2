/**
 * The request side of the AWS Query protocol: a form-encoded body of dotted keys, as the SDK's
 * `QueryShapeSerializer` writes them. Lists are `Name.member.N…` (N from 1), maps `Name.entry.N.<key>` and
 * `Name.entry.N.<value>` (the names the service model gives, e.g. SNS's `Name`/`Value`), and an empty list
 * is the bare key with an empty value (`Targets=`). The keys are first rebuilt into a tree, then each action
 * parses the tree with a zod schema made of the helpers below.
 */
import { z } from 'zod';
import { describeIssues } from '../../shared/domain/validation.js';
import { MalformedQueryError, QueryServiceError } from './query-errors.js';

/** A node of the rebuilt parameter tree: a value, or children by key segment (null prototype, no pollution). */
export type QueryParamTree = string | { readonly [segment: string]: QueryParamTree };

export interface QueryRequest {
  readonly action: string | undefined;
  readonly version: string | undefined;
  readonly params: { readonly [segment: string]: QueryParamTree };
}

/** Segments that would reach Object.prototype if a client sent them. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** Splits a form body into Action, Version and the tree of the remaining parameters. */
export function parseQueryRequest(body: string): QueryRequest {
  const tree: Record<string, QueryParamTree> = Object.create(null) as Record<string, QueryParamTree>;
  let action: string | undefined;
  let version: string | undefined;
  for (const [key, value] of new URLSearchParams(body)) {
    if (key === 'Action') action = value;
    else if (key === 'Version') version = value;
    else insert(tree, key, value);
  }
  return { action, version, params: tree };
}

function insert(tree: Record<string, QueryParamTree>, key: string, value: string): void {
  const segments = key.split('.');
  if (segments.some((s) => s === '' || FORBIDDEN_SEGMENTS.has(s))) {
    throw new MalformedQueryError(`malformed parameter name ${JSON.stringify(key)}`);
  }
  let node = tree;
  for (const segment of segments.slice(0, -1)) {
    const child = node[segment];
    if (child === undefined) {
      const created = Object.create(null) as Record<string, QueryParamTree>;
      node[segment] = created;
      node = created;
    } else if (typeof child === 'string') {
      // `Targets=` (an empty list) next to `Targets.member.1.Id=…` is contradictory; anything else is a clash.
      throw new MalformedQueryError(`parameter ${JSON.stringify(key)} clashes with a value at ${segment}`);
    } else {
      node = child as Record<string, QueryParamTree>;
    }
  }
  const last = segments[segments.length - 1] as string;
  if (node[last] !== undefined) throw new MalformedQueryError(`parameter ${JSON.stringify(key)} is repeated`);
  node[last] = value;
}

/** Children keyed 1..N, in numeric order; anything else (0, gaps, non-numbers) is malformed. */
function numbered(node: QueryParamTree, what: string): QueryParamTree[] {
  if (typeof node === 'string') return [];
  const keys = Object.keys(node);
  const items: QueryParamTree[] = [];
  for (let i = 1; i <= keys.length; i++) {
    const item = node[String(i)];
    if (item === undefined) throw new MalformedQueryError(`${what} must be numbered 1..${keys.length}`);
    items.push(item);
  }
  return items;
}

function membersOf(value: unknown): unknown {
  if (value === '') return []; // the SDK's encoding of an empty list
  if (value === undefined || typeof value === 'string') return value;
  const node = value as { readonly [segment: string]: QueryParamTree };
  const members = node['member'];
  if (members === undefined || Object.keys(node).length !== 1) return value; // let the array schema refuse it
  return numbered(members, 'list members');
}

/** A Query-protocol list (`Name.member.N`) of `item`. */
export function queryList<T extends z.ZodType>(item: T) {
  return z.preprocess(membersOf, z.array(item));
}

/** A Query-protocol map (`Name.entry.N.<keyName>`, `Name.entry.N.<valueName>`) with string keys. */
export function queryMap<T extends z.ZodType>(keyName: string, valueName: string, value: T) {
  return z.preprocess(
    (input: unknown) => {
      if (input === '') return {};
      if (input === undefined || typeof input === 'string') return input;
      const node = input as { readonly [segment: string]: QueryParamTree };
      const entries = node['entry'];
      if (entries === undefined || Object.keys(node).length !== 1) return input;
      const map: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const entry of numbered(entries, 'map entries')) {
        if (typeof entry === 'string') return input;
        const key = entry[keyName];
        if (typeof key !== 'string' || FORBIDDEN_SEGMENTS.has(key) || key in map) return input;
        map[key] = entry[valueName];
      }
      return map;
    },
    z.record(z.string(), value),
  );
}

/** An integer sent as text, as every Query-protocol number is. */
export const queryInteger = z
  .string()
  .regex(/^-?\d{1,10}$/, 'expected an integer')
  .transform((text) => Number(text));

/** Parses an action's parameters; a failure is answered with the service's own validation error code. */
export function parseQueryInput<S extends z.ZodType>(
  schema: S,
  params: QueryRequest['params'],
  validationErrorCode: string,
): z.output<S> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issues = describeIssues(result.error);
  throw new QueryServiceError(
    validationErrorCode,
    `${issues.length} validation error(s) detected: ${issues.join('; ')}`,
  );
}
