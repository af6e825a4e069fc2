/**
 * JSON a function reads from its environment, packed (gzip, base64) so what grows with the props (the
 * policy, the operator grants) takes a fraction of Lambda's 4 KB: a policy at its 2 KB cap measures about a
 * quarter of that packed, where Lambda's measure of it as plain JSON (its quotes escaped) was over 2 KB. The
 * functions unpack it with lambdas/runtime/json-environment.ts. For values without tokens only: a reference
 * resolved by CloudFormation cannot be packed at synth.
 */
import { gzipSync } from 'node:zlib';
import { PACKED_JSON_PREFIX } from '../../lambdas/runtime/json-environment.js';

export function packedJson(value: unknown): string {
  return PACKED_JSON_PREFIX + gzipSync(JSON.stringify(value), { level: 9 }).toString('base64');
}
