/** Where the fault suite's tally goes; apart from tally.ts, which imports vitest, so the global setup can clear it. */
import { resolve } from 'node:path';

export const TALLY_FILE = resolve(import.meta.dirname, '..', '..', '..', 'reports', 'faults', 'tally.jsonl');
