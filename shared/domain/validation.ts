/** Turns a zod failure into rejuv's ValidationError, so every boundary reports bad input the same way. */
import type { z } from 'zod';
import { ValidationError } from './errors.js';

export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
}

/** Parses `input` with `schema`; throws ValidationError naming `subject` and every offending field. */
export function parseWith<S extends z.ZodType>(schema: S, subject: string, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success)
    throw new ValidationError(subject, describeIssues(result.error), { cause: result.error });
  return result.data;
}
