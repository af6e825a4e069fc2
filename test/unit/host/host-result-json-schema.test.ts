import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseHostDocumentResult } from '../../../host/results/host-document-result.js';
import {
  HOST_RESULT_JSON_SCHEMA_PATH,
  hostResultJsonSchemaText,
} from '../../../host/results/host-result-json-schema.js';

describe('File: host/results/host-result.schema.json', () => {
  it('is what the zod schema generates today (npm run generate:host-result-schema writes it)', () => {
    expect(readFileSync(HOST_RESULT_JSON_SCHEMA_PATH, 'utf8')).toBe(hostResultJsonSchemaText());
  });

  it('pins schemaVersion and names each document, for a reader without zod', () => {
    const schema = JSON.parse(hostResultJsonSchemaText()) as {
      oneOf: { properties: { schemaVersion: unknown; document: { const: string } } }[];
    };
    expect(schema.oneOf.map((d) => d.properties.document.const)).toEqual([
      'Preflight',
      'WarmReboot',
      'Verify',
      'Recover',
      'Census',
      'unknown',
    ]);
    for (const d of schema.oneOf) expect(d.properties.schemaVersion).toEqual({ type: 'number', const: 1 });
  });
});

/**
 * Lines the contract accepts and refuses, shared with the agent's Python test
 * (host/agent/tests/test_host_result_schema.py), which checks them against the generated JSON Schema:
 * the two readers agree on each.
 */
const samples = readFileSync(
  new URL('../../../host/results/host-result-samples.jsonl', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as { what: string; valid: boolean; line: unknown });

describe('File: host/results/host-result-samples.jsonl, read by the zod schema', () => {
  it('holds lines of every document, accepted and refused', () => {
    expect(samples.filter((s) => s.valid).length).toBeGreaterThan(5);
    expect(samples.filter((s) => !s.valid).length).toBeGreaterThan(5);
  });

  it.each(samples)('$what: accepted $valid', ({ valid, line }) => {
    const read = () => parseHostDocumentResult(`${JSON.stringify(line)}\n`);
    if (valid) expect(read).not.toThrow();
    else expect(read).toThrow(/^host document result (unreadable|has schemaVersion)/);
  });
});
