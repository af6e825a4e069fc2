/** Writes host-result.schema.json from the host result line's zod schema. */
import { writeFileSync } from 'node:fs';
import { HOST_RESULT_JSON_SCHEMA_PATH, hostResultJsonSchemaText } from './host-result-json-schema.js';

writeFileSync(HOST_RESULT_JSON_SCHEMA_PATH, hostResultJsonSchemaText());
process.stdout.write(`wrote ${HOST_RESULT_JSON_SCHEMA_PATH}\n`);
