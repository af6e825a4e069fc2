/**
 * The CollectAging document's result line (host/agent/rejuv_agent/collect_aging.py), judged per host before
 * anything of it is published. A line that is truncated, not JSON, of the wrong shape, or holding a value
 * no host can have (NaN, a negative, more resident memory than the host has, an uptime of centuries) is a
 * broken collector, not a host in trouble: that host is refused with a reason and nothing of it is
 * published. A reply that names another host than the one the command targeted is refused the same way,
 * since publishing it would put one host's memory under another's name. Nothing here throws on bad input:
 * one host's broken reply must never stop the others from being judged.
 */
import { z } from 'zod';
import { describeIssues } from '../domain/validation.js';
import { HostIdSchema, InstanceIdSchema } from '../domain/identifiers.js';
import { MAX_PLAUSIBLE_BYTES } from './aging-resources.js';

export const COLLECTOR_DOCUMENT = 'CollectAging';
export const COLLECTOR_SCHEMA_VERSION = 1;

/** Three decades: a kernel or process up longer than that is a unit error or garbage. */
export const MAX_PLAUSIBLE_UPTIME_SECONDS = 30 * 365.25 * 24 * 3600;
/** The kernel's PID_MAX_LIMIT (4 Mi): no pid or thread count of one process goes above it. */
const PID_MAX_LIMIT = 4_194_304;
/** fs.nr_open's ceiling: one process cannot hold more descriptors. */
const MAX_OPEN_FDS = 1 << 30;
/** A measurement dated further ahead than this is a clock gone wrong (CloudWatch allows 2 hours). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
/** CloudWatch refuses datapoints older than two weeks; so does this, with a clearer reason. */
export const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
/** The agent keeps its line under this many characters; the coordinator reads 24,000 of stdout. */
const MAX_LINE_CHARS = 24_000;

const bytes = z
  .number()
  .int('whole bytes')
  .nonnegative('a byte count cannot be negative')
  .max(MAX_PLAUSIBLE_BYTES, `over ${MAX_PLAUSIBLE_BYTES} bytes (64 TiB): not a possible value`);
const uptime = z
  .number()
  .nonnegative('an uptime cannot be negative')
  .max(MAX_PLAUSIBLE_UPTIME_SECONDS, 'an uptime of more than 30 years');
const index = z.number().min(0, 'an index below 0').max(1, 'an index above 1');

export const HostMeasurementSchema = z.object({
  memTotalBytes: bytes.positive('a host has some memory'),
  memAvailableBytes: bytes,
  sUnreclaimBytes: bytes,
  pageTablesBytes: bytes,
  vmallocUsedBytes: bytes,
  swapFreeBytes: bytes,
  swapTotalBytes: bytes,
  uptimeSeconds: uptime,
  /** Gorman's unusable free space index for each huge-page order (`order9`, `order10`). */
  unusableFreeIndex: z
    .record(z.string().regex(/^order([9]|1[0-9])$/, 'orders 9 to 19'), index)
    .refine((orders) => 'order9' in orders, 'order9 (a 2 MiB huge page) is missing'),
});

export const QemuMeasurementSchema = z.object({
  vm: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a VM name of the inventory'),
  pid: z.number().int().positive().max(PID_MAX_LIMIT),
  rssBytes: bytes,
  threads: z.number().int().positive('a live process has a thread').max(PID_MAX_LIMIT),
  openFds: z.number().int().nonnegative().max(MAX_OPEN_FDS),
  uptimeSeconds: uptime,
});

const CollectorSuccessSchema = z
  .object({
    document: z.literal(COLLECTOR_DOCUMENT),
    schemaVersion: z.literal(COLLECTOR_SCHEMA_VERSION),
    outcome: z.literal('ok'),
    /** The hostId parameter echoed, or null when the command went to a fleet by tag. */
    hostId: HostIdSchema.nullable(),
    /** The instance the host's SSM agent runs on (AWS_SSM_INSTANCE_ID), when it said. */
    instanceId: InstanceIdSchema.optional(),
    measuredAt: z.number().int('whole milliseconds since the epoch'),
    host: HostMeasurementSchema,
    qemu: z.array(QemuMeasurementSchema).max(1024),
    unmeasuredVms: z.array(z.object({ vm: z.string().max(63), reason: z.string().max(2000) })).default([]),
  })
  .superRefine((line, ctx) => {
    const { host } = line;
    const over = (path: (string | number)[], what: string, value: number, limit: number, of: string) => {
      if (value > limit)
        ctx.addIssue({ code: 'custom', path, message: `${what} ${value} exceeds ${of} ${limit}` });
    };
    over(
      ['host', 'memAvailableBytes'],
      'MemAvailable',
      host.memAvailableBytes,
      host.memTotalBytes,
      'MemTotal',
    );
    over(['host', 'sUnreclaimBytes'], 'SUnreclaim', host.sUnreclaimBytes, host.memTotalBytes, 'MemTotal');
    over(['host', 'pageTablesBytes'], 'PageTables', host.pageTablesBytes, host.memTotalBytes, 'MemTotal');
    over(['host', 'swapFreeBytes'], 'SwapFree', host.swapFreeBytes, host.swapTotalBytes, 'SwapTotal');
    const seen = new Set<string>();
    line.qemu.forEach((process, i) => {
      if (seen.has(process.vm))
        ctx.addIssue({ code: 'custom', path: ['qemu', i, 'vm'], message: `VM ${process.vm} reported twice` });
      seen.add(process.vm);
      over(['qemu', i, 'rssBytes'], `${process.vm}'s RSS`, process.rssBytes, host.memTotalBytes, 'MemTotal');
      // A second of slack: the two uptimes are read a moment apart and rounded.
      over(
        ['qemu', i, 'uptimeSeconds'],
        `${process.vm}'s process uptime`,
        process.uptimeSeconds,
        host.uptimeSeconds + 1,
        "the kernel's uptime",
      );
    });
  });

/** The agent's own failure line (bootstrap or agent error): a refusal with the agent's reason. */
const CollectorFailureSchema = z.object({
  document: z.string(),
  outcome: z.enum(['failed', 'refused']),
  reason: z.string().optional(),
  reasonCode: z.string().optional(),
});

export type HostMeasurement = z.output<typeof HostMeasurementSchema>;
export type QemuMeasurement = z.output<typeof QemuMeasurementSchema>;

/** One host's accepted measurement, attributed to the host the command targeted. */
export interface AgingMeasurement {
  readonly hostId: string;
  readonly instanceId: string | undefined;
  readonly measuredAt: Date;
  readonly host: HostMeasurement;
  readonly qemu: readonly QemuMeasurement[];
  readonly unmeasuredVms: readonly { vm: string; reason: string }[];
}

/** Who the command was sent to: the host the registry names, on the instance SSM delivered it to. */
export interface CollectorTarget {
  readonly hostId: string;
  readonly instanceId?: string | undefined;
}

export const COLLECTOR_REFUSALS = [
  'no-result',
  'truncated',
  'not-json',
  'collector-failed',
  'invalid',
  'wrong-host',
  'unattributable',
  'stale',
  'from-the-future',
  'duplicate-host',
] as const;
export type CollectorRefusalCode = (typeof COLLECTOR_REFUSALS)[number];

export type CollectorVerdict =
  | { readonly outcome: 'accepted'; readonly hostId: string; readonly measurement: AgingMeasurement }
  | {
      readonly outcome: 'refused';
      readonly hostId: string;
      readonly code: CollectorRefusalCode;
      readonly reason: string;
    };

const refuse = (hostId: string, code: CollectorRefusalCode, reason: string): CollectorVerdict => ({
  outcome: 'refused',
  hostId,
  code,
  reason,
});

/**
 * Judges one host's CollectAging stdout (its last line that starts with `{`, as for every document).
 * `now` dates the judgement: a measurement from the future or older than CloudWatch keeps is refused.
 */
export function judgeCollectorOutput(stdout: string, target: CollectorTarget, now: Date): CollectorVerdict {
  const { hostId } = target;
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (line === undefined) return refuse(hostId, 'no-result', 'the collector printed no JSON line');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // Python's json writes NaN and Infinity as bare words, which JSON does not have.
    if (/(?<![A-Za-z"])(-?Infinity|NaN)(?![A-Za-z"])/.test(line))
      return refuse(
        hostId,
        'not-json',
        'the result line holds NaN or Infinity, which are not numbers in JSON',
      );
    if (!line.endsWith('}') || line.length >= MAX_LINE_CHARS)
      return refuse(hostId, 'truncated', `the result line is cut off after ${line.length} characters`);
    return refuse(hostId, 'not-json', 'the result line is not JSON');
  }
  const failure = CollectorFailureSchema.safeParse(value);
  if (failure.success)
    return refuse(
      hostId,
      'collector-failed',
      `the collector ${failure.data.outcome}: ${failure.data.reason ?? 'no reason given'}` +
        (failure.data.reasonCode === undefined ? '' : ` (${failure.data.reasonCode})`),
    );
  const parsed = CollectorSuccessSchema.safeParse(value);
  if (!parsed.success) return refuse(hostId, 'invalid', describeIssues(parsed.error).join('; '));
  const result = parsed.data;

  if (result.hostId !== null && result.hostId !== hostId)
    return refuse(
      hostId,
      'wrong-host',
      `the reply is from host ${result.hostId}, the command was for ${hostId}`,
    );
  if (
    result.instanceId !== undefined &&
    target.instanceId !== undefined &&
    result.instanceId !== target.instanceId
  )
    return refuse(
      hostId,
      'wrong-host',
      `the reply is from instance ${result.instanceId}, host ${hostId} is instance ${target.instanceId}`,
    );
  if (result.hostId === null && (result.instanceId === undefined || target.instanceId === undefined))
    return refuse(
      hostId,
      'unattributable',
      'the reply names neither its host id nor an instance id to check it against',
    );

  const ageMs = now.getTime() - result.measuredAt;
  if (ageMs < -MAX_FUTURE_SKEW_MS)
    return refuse(hostId, 'from-the-future', `measured ${Math.round(-ageMs / 1000)} s ahead of now`);
  if (ageMs > MAX_AGE_MS)
    return refuse(hostId, 'stale', `measured ${Math.round(ageMs / 3_600_000)} hours ago, over two weeks`);

  return {
    outcome: 'accepted',
    hostId,
    measurement: {
      hostId,
      instanceId: result.instanceId ?? target.instanceId,
      measuredAt: new Date(result.measuredAt),
      host: result.host,
      qemu: result.qemu,
      unmeasuredVms: result.unmeasuredVms,
    },
  };
}

/**
 * Judges one collection round. Two replies attributed to the same host cannot both be right, so both are
 * refused: one host's series must never interleave two machines.
 */
export function judgeCollection(
  replies: readonly { readonly target: CollectorTarget; readonly stdout: string }[],
  now: Date,
): CollectorVerdict[] {
  const verdicts = replies.map(({ target, stdout }) => judgeCollectorOutput(stdout, target, now));
  const count = new Map<string, number>();
  for (const { hostId } of replies.map((r) => r.target)) count.set(hostId, (count.get(hostId) ?? 0) + 1);
  return verdicts.map((verdict) =>
    (count.get(verdict.hostId) ?? 0) > 1
      ? refuse(
          verdict.hostId,
          'duplicate-host',
          `${count.get(verdict.hostId)} replies in one round claim this host`,
        )
      : verdict,
  );
}
