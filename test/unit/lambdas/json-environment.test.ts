import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { packedJson } from '../../../cdk/limits/packed-json.js';
import { jsonEnvironmentVariable, PACKED_JSON_PREFIX } from '../../../lambdas/runtime/json-environment.js';

const Schema = z.object({ table: z.string().min(3) }).strict();

describe('Function: jsonEnvironmentVariable', () => {
  it('returns the parsed, validated value', () => {
    expect(jsonEnvironmentVariable({ CFG: '{"table":"hosts"}' }, 'CFG', Schema, 'Test')).toEqual({
      table: 'hosts',
    });
  });

  it('names the variable and the construct that should have set it when it is missing or empty', () => {
    expect(() => jsonEnvironmentVariable({}, 'CFG', Schema, 'Test')).toThrow(
      'CFG is not set: this function must be deployed by the Test construct',
    );
    expect(() => jsonEnvironmentVariable({ CFG: '' }, 'CFG', Schema, 'Test')).toThrow(/CFG is not set/);
  });

  it('refuses a value that is not JSON, or does not match the schema, naming the variable', () => {
    expect(() => jsonEnvironmentVariable({ CFG: '{table' }, 'CFG', Schema, 'Test')).toThrow(
      'CFG is not JSON',
    );
    expect(() => jsonEnvironmentVariable({ CFG: '{"table":"x","extra":1}' }, 'CFG', Schema, 'Test')).toThrow(
      /CFG/,
    );
  });

  it('reads a value the construct packed (gzip, base64) as the JSON it packed; refuses a damaged one', () => {
    const packed = packedJson({ table: 'hosts' });
    expect(packed.startsWith(PACKED_JSON_PREFIX)).toBe(true);
    expect(jsonEnvironmentVariable({ CFG: packed }, 'CFG', Schema, 'Test')).toEqual({ table: 'hosts' });
    expect(() =>
      jsonEnvironmentVariable({ CFG: `${PACKED_JSON_PREFIX}bm90IGd6aXA=` }, 'CFG', Schema, 'Test'),
    ).toThrow(/^CFG is not/);
  });
});
