/** A function's configuration in one JSON environment variable, as its construct writes it, checked by a schema. */
import type { z } from 'zod';
import { parseWith } from '../../shared/domain/validation.js';

/** The variable `name`, parsed and validated; a clear error naming it when it is missing or malformed. */
export function jsonEnvironmentVariable<S extends z.ZodType>(
  env: NodeJS.ProcessEnv,
  name: string,
  schema: S,
  deployedBy: string,
): z.output<S> {
  const raw = env[name];
  if (raw === undefined || raw === '')
    throw new Error(`${name} is not set: this function must be deployed by the ${deployedBy} construct`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new Error(`${name} is not JSON`, { cause: error });
  }
  return parseWith(schema, name, json);
}
