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
  const result = schema.safeParse(item);
  if (!result.success) throw new CorruptItemError(table, key, describeIssues(result.error));
  return result.data;
}
