/**
 * Recorded aging traces, for hosts that really ran (the lab's QEMU hosts, leak-free: any prediction on
 * them is a false positive). The hook for the bench: a JSON file per host,
 * `{"hostId": "...", "series": [{"resource": "memAvailable", "limit": 1e9, "points": [{"t": ms, "v": n}]}]}`,
 * read through the same validation as the trigger's input, so a broken recording is refused per series.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../shared/domain/validation.js';

const RecordedHostSchema = z.object({
  hostId: z.string(),
  series: z.array(z.unknown()),
});

export type RecordedHost = z.output<typeof RecordedHostSchema>;

/** Every `*.json` in `directory`; a file that is not a recorded host fails the bench with its name. */
export function loadRecordedHosts(directory: string): RecordedHost[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const path = join(directory, file);
      return parseWith(RecordedHostSchema, `recorded trace ${path}`, JSON.parse(readFileSync(path, 'utf8')));
    });
}
