/**
 * Recorded aging traces, for hosts that really ran (the lab's QEMU hosts, leak-free: any prediction on
 * them is a false positive; `npm run record:aging` records them). A JSON file per host,
 * `{"hostId": "...", "series": [{"resource": "memAvailable", "limit": 1e9, "points": [{"t": ms, "v": n}]}]}`,
 * read through the same validation as the trigger's input, so a broken recording is refused per series.
 *
 * A recording made at a short period says which (`periodMs`) and by how much the bench stretches its time
 * (`timeScale`) so that one sample stands for one of the bench's periods; the points are stored as
 * measured, and `loadRecordedHosts` applies the stretch.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../shared/domain/validation.js';

const RecordedHostSchema = z.object({
  hostId: z.string(),
  /** Labelled leak-free: whatever the trigger says of it is a false positive. */
  leakFree: z.literal(true).optional(),
  source: z.string().optional(),
  /** The real time between two samples. */
  periodMs: z.number().int().positive().optional(),
  /** Time is stretched by this around the first sample (1: as measured). */
  timeScale: z.number().min(1).max(100_000).optional(),
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
      return stretched(
        parseWith(RecordedHostSchema, `recorded trace ${path}`, JSON.parse(readFileSync(path, 'utf8'))),
      );
    });
}

/**
 * The host with its times stretched by `timeScale` around its first sample; series and points that are
 * not what they should be are passed on untouched, for the trigger's validation to refuse.
 */
function stretched(host: RecordedHost): RecordedHost {
  const scale = host.timeScale ?? 1;
  if (scale === 1) return host;
  const times = host.series.flatMap((s) =>
    pointsOf(s)
      .map((p) => p.t)
      .filter(Number.isFinite),
  );
  if (times.length === 0) return host;
  const origin = Math.min(...times);
  const stretch = (t: unknown) => (typeof t === 'number' ? Math.round(origin + (t - origin) * scale) : t);
  return {
    ...host,
    series: host.series.map((s) => {
      if (typeof s !== 'object' || s === null) return s;
      const series = s as { startedAt?: unknown; points?: unknown };
      return {
        ...series,
        ...(series.startedAt === undefined ? {} : { startedAt: stretch(series.startedAt) }),
        ...(Array.isArray(series.points)
          ? {
              points: (series.points as unknown[]).map((p) =>
                typeof p === 'object' && p !== null ? { ...p, t: stretch((p as { t?: unknown }).t) } : p,
              ),
            }
          : {}),
      };
    }),
  };
}

function pointsOf(series: unknown): { t: number }[] {
  const points = (series as { points?: unknown } | null)?.points;
  if (!Array.isArray(points)) return [];
  return points.map((p) => ({ t: typeof p?.t === 'number' ? (p.t as number) : Number.NaN }));
}
