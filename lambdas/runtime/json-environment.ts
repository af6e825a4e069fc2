/** A function's configuration in one JSON environment variable, as its construct writes it, checked by a schema. */
import { gunzipSync } from 'node:zlib';
import type { z } from 'zod';
import { parseWith } from '../../shared/domain/validation.js';

/**
 * A value the construct packed to fit Lambda's 4 KB of environment: gzip, base64, behind this prefix
 * (cdk/limits/packed-json.ts). Plain JSON is read as it is.
 */
export const PACKED_JSON_PREFIX = 'gzip+base64:';

function unpacked(name: string, raw: string): string {
  if (!raw.startsWith(PACKED_JSON_PREFIX)) return raw;
  try {
    return gunzipSync(Buffer.from(raw.slice(PACKED_JSON_PREFIX.length), 'base64')).toString('utf8');
  } catch (error) {
    throw new Error(`${name} is not packed JSON`, { cause: error });
  }
}

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
    json = JSON.parse(unpacked(name, raw));
  } catch (error) {
    throw new Error(`${name} is not JSON`, { cause: error });
  }
  return parseWith(schema, name, json);
}
