/** Every item read back from DynamoDB is parsed with its schema: the store is a boundary too. */
import type { z } from 'zod';
import { CorruptItemError } from '../../domain/errors.js';
import { describeIssues } from '../../domain/validation.js';

export function parseItem<S extends z.ZodType>(
  schema: S,
  table: string,
  key: string,
  item: unknown,
): z.output<S> {
  const smuggled = smuggledPrototype(item, '(root)');
  if (smuggled !== undefined)
    throw new CorruptItemError(table, key, [
      `${smuggled}: a map member named __proto__ (its members would pass for stored attributes)`,
    ]);
  const result = schema.safeParse(item);
  if (!result.success) throw new CorruptItemError(table, key, describeIssues(result.error));
  return result.data;
}

/**
 * The path of a map read back with a foreign prototype. The SDK's unmarshall assigns map members, so
 * a member named __proto__ holding a map, inside a map attribute, becomes that map's prototype, and a
 * schema reads its members as if they were stored (e.g. a lastTransition whose `at` is only there).
 * Every other map comes back with Object.prototype.
 */
function smuggledPrototype(value: unknown, path: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return path;
  for (const [key, member] of Object.entries(value)) {
    const found = smuggledPrototype(member, path === '(root)' ? key : `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
