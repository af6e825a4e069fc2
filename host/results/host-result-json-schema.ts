/**
 * The host result line's contract as JSON Schema, generated from its zod schema for the readers that
 * cannot run zod: the agent's Python tests (host/agent/tests/) check the agent's lines against it. The
 * file is committed; test/unit/host/host-result-json-schema.test.ts fails when it is out of date, and
 * `npm run generate:host-result-schema` writes it again.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { HostDocumentResultSchema } from './host-document-result.js';

export const HOST_RESULT_JSON_SCHEMA_PATH = fileURLToPath(
  new URL('./host-result.schema.json', import.meta.url),
);

/** The file's text: the schema of what a reader accepts (`io: 'input'`), as indented JSON. */
export function hostResultJsonSchemaText(): string {
  const { $schema, ...schema } = z.toJSONSchema(HostDocumentResultSchema, { io: 'input' });
  const document = {
    $schema,
    $comment:
      'Generated from host/results/host-document-result.ts by `npm run generate:host-result-schema`: do not edit.',
    ...schema,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
