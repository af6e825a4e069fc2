/**
 * The one JSON line each host document prints on stdout: the contract between the agent
 * (host/agent/rejuv_agent/, the producer) and its two readers, the coordinator
 * (shared/workflow/host-result.ts) and the tests. Written once, here; host-result.schema.json beside it
 * is generated from it (`npm run generate:host-result-schema`) for the agent's Python tests.
 *
 * Versioning: `schemaVersion` is checked before anything else, and a line of any other version is
 * refused with HostResultVersionError (a coordinator and agents of different releases: a person must
 * ship the matching documents; retrying changes nothing). Within a version, fields may be added (a
 * reader ignores keys it does not know); renaming, removing or retyping one is a new version.
 */
import { z } from 'zod';
import { RejuvError } from '../../shared/domain/errors.js';
import { SilentGuestsSchema } from '../../shared/workflow/preflight-findings.js';

export const RESULT_SCHEMA_VERSION = 1;

/** Document-level outcome. `partial`: Recover brought back some VMs but not all. */
export const HostOutcomeSchema = z.enum(['ok', 'refused', 'failed', 'partial']);

/**
 * The bounds keep what the coordinator copies into the state machine's data and the audit within their
 * sizes whatever a host prints; the agent prints at most 23,000 characters (SSM returns 24,000).
 */
const common = {
  schemaVersion: z.literal(RESULT_SCHEMA_VERSION),
  outcome: HostOutcomeSchema,
  reason: z.string().max(4096).optional(),
  /** Machine-readable reason, e.g. `unknown-vm`, `level-unsupported`, `vm-not-ready`, `busy`, `suspend-failed`. */
  reasonCode: z.string().max(4096).optional(),
  runId: z.string().max(128).optional(),
  /** The line was too long with every VM's detail: each VM keeps only its name, outcome and reason. */
  detailTrimmed: z.boolean().optional(),
};

const name = z.string().max(128);
const vmReason = z.string().max(2048);
/** At most as many VMs as a host may have, with room for names a request brought (`unknown-vm`). */
const vmList = <T extends z.ZodType>(vm: T) => z.array(vm).max(1024);
const pid = z.number().int().positive();
const epochMs = z.number().nonnegative();

export const RamBackendSchema = z.object({
  id: z.string(),
  type: z.string(),
  share: z.boolean(),
  bytes: z.number().int().nonnegative(),
  memPath: z.string().optional(),
});

/**
 * The guest's heartbeat as Preflight sampled it, before anything was touched: the counter at the end
 * of its log, then whether a new heartbeat line followed within the window.
 */
export const HeartbeatSampleSchema = z.object({
  advancing: z.boolean(),
  first: z.number().int().nullable(),
  last: z.number().int().nullable(),
  sampledMs: z.number().nonnegative().optional(),
  /** The log could not be read (the guest counts as silent). */
  problem: z.string().optional(),
});

/**
 * One VM process the census found on the host (host/agent/rejuv_agent/census.py), or one inventory entry
 * no process runs. `outcome` is the census status:
 * - `managed`: runs its inventory entry (as started, restored or handed over);
 * - `drifted`: holds an inventory entry's QMP socket but runs other arguments (`drift` says where);
 * - `adoptable`: a raw QEMU with a QMP unix socket and a serial log, so an entry can be written from it;
 * - `foreign`: another manager's (libvirt), a device the agent cannot carry (VFIO), or another VMM;
 * - `unreadable`: a process the census could not read (it vanished, or permission), maybe a VM;
 * - `missing`: an inventory entry that no process runs (no `pid`).
 */
export const CENSUS_STATUSES = [
  'managed',
  'drifted',
  'adoptable',
  'foreign',
  'unreadable',
  'missing',
] as const;
export const CensusStatusSchema = z.enum(CENSUS_STATUSES);

export const ArgvDriftSchema = z.object({
  /** The inventory entry's arguments at this place... */
  inventory: z.array(z.string()),
  /** ...and the running process's instead. */
  process: z.array(z.string()),
});

export const CensusVmSchema = z.object({
  /** The inventory name, or for a VM outside the inventory the name an adopted entry would get. */
  name,
  outcome: CensusStatusSchema,
  /** Why it is not managed (all reasons, `; `-joined). */
  reason: z.string().optional(),
  pid: pid.optional(),
  /** `qemu`, or the other VMM's name (`cloud-hypervisor`, `firecracker`, `crosvm`, `kvmtool`, ...). */
  vmm: z.string().optional(),
  /** An adoptable VM's QMP socket, which its entry would name. */
  qmpSocket: z.string().optional(),
  /** The process is one an inventory entry describes (a drifted one, or another manager's). */
  inventory: z.boolean().optional(),
  drift: z.array(ArgvDriftSchema).optional(),
});

export const AdoptionSchema = z.object({
  name,
  outcome: z.enum(['adopted', 'refused']),
  reason: z.string().optional(),
  pid: pid.optional(),
  /** The inventory entry written. */
  entry: z.string().optional(),
});

export const PreflightVmSchema = z.object({
  name,
  outcome: z.enum(['ready', 'refused']),
  reason: vmReason.optional(),
  pid: pid.optional(),
  status: z.string().optional(),
  ramBytes: z.number().int().nonnegative().optional(),
  ramBackends: z.array(RamBackendSchema).optional(),
  heartbeat: HeartbeatSampleSchema.optional(),
});

/** Milliseconds per phase: stop, save, quit (old process), start, restore, cont (new process). */
export const PhaseTimesSchema = z.record(z.string(), z.number().nonnegative());

const WarmRebootVmOutcomeSchema = z.enum(['resumed', 'rolled-back', 'failed', 'untouched']);

export const WarmRebootVmSchema = z.object({
  name,
  /**
   * `rolled-back`: its suspend failed and it was continued in its original process; `untouched`: the
   * rollout stopped at another VM's failure before this one began.
   */
  outcome: WarmRebootVmOutcomeSchema,
  reason: vmReason.optional(),
  pidBefore: pid.nullable(),
  pidAfter: pid.optional(),
  /** Guest-visible pause: QMP RESUME on the new process minus QMP STOP on the old one. */
  pauseMs: z.number().nonnegative().optional(),
  /** Bytes written to the state file: device state only when memory stays in place. */
  stateBytes: z.number().int().nonnegative().optional(),
  ramBytes: z.number().int().nonnegative(),
  phasesMs: PhaseTimesSchema,
  /**
   * `handover`: a successor process was started beside the running one and the device state migrated
   * straight into it; `stop-restart`: stopped, state saved to a file, old process quit, new one
   * started and restored; `kernel-reload`: stopped, state saved to the state region, old process quit,
   * host kernel kexeced, new process restored from the region. Absent for a VM the rollout never reached.
   */
  path: z.enum(['handover', 'stop-restart', 'kernel-reload']).optional(),
  /** Why the VM took the stop-restart path (or why its handover was given up). */
  pathReason: z.string().optional(),
  stoppedAt: epochMs.optional(),
  resumedAt: epochMs.optional(),
});

/**
 * A WarmReboot VM as a trimmed line keeps it (`detailTrimmed`): only these keys, so a full VM that lacks
 * a required field is still refused. The other documents' VMs require nothing that trimming drops.
 */
const TrimmedWarmRebootVmSchema = z.strictObject({
  name,
  outcome: WarmRebootVmOutcomeSchema,
  reason: vmReason.optional(),
  pauseMs: z.number().nonnegative().optional(),
  stateBytes: z.number().int().nonnegative().optional(),
});

export const VerifyVmSchema = z.object({
  name,
  /**
   * `silent-at-preflight`: the guest's heartbeat was already silent before the run and still is; its
   * process checks passed, and it does not fail the verification.
   */
  outcome: z.enum(['verified', 'failed', 'silent-at-preflight']),
  reason: vmReason.optional(),
  pid: pid.optional(),
  pidBefore: pid.nullable().optional(),
  status: z.string().optional(),
  heartbeatAtSuspend: z.number().int().nullable().optional(),
  heartbeatNow: z.number().int().optional(),
  /** Named in the request's silentAtPreflight. */
  silentAtPreflight: z.boolean().optional(),
});

export const RecoverVmSchema = z.object({
  name,
  /** Where the VM is after Recover: only `running` is a success. */
  outcome: z.enum(['running', 'lost', 'failed', 'unresponsive', 'needs-attention']),
  reason: vmReason.optional(),
  /** What Recover found, e.g. `running`, `paused`, `postmigrate`, `process gone, device state saved`. */
  found: z.string().optional(),
  /** What Recover did, e.g. `none`, `cont`, `restored from saved device state`, `cold-started (...)`. */
  action: z.string().optional(),
  pid: pid.optional(),
  phasesMs: PhaseTimesSchema.optional(),
  /** How Recover settled a handover the interrupted run left half done. */
  handover: z.string().optional(),
});

export const PreflightResultSchema = z.object({
  ...common,
  document: z.literal('Preflight'),
  level: z.enum(['vmm-process', 'kernel']).optional(),
  allowSilentGuests: z.boolean().optional(),
  /** VMs whose guest heartbeat did not advance (at top level, so it survives per-VM trimming). */
  silentVms: SilentGuestsSchema.optional(),
  vms: vmList(PreflightVmSchema),
  /**
   * Every VM process on the host (and inventory entry without one): the ones not `managed` are not
   * rejuvenated (level vmm-process), or make the kernel level refuse (a kexec would end them).
   */
  census: vmList(CensusVmSchema).optional(),
});

export const WarmRebootResultSchema = z.object({
  ...common,
  document: z.literal('WarmReboot'),
  level: z.enum(['vmm-process', 'kernel']).optional(),
  memoryInPlace: z.boolean().optional(),
  /** True when this runId had already been carried out and the stored result is returned. */
  replayed: z.boolean().optional(),
  startedAt: epochMs.optional(),
  durationMs: z.number().nonnegative().optional(),
  /**
   * Level `kernel`, printed by the rerun after the reload (the first run exits 194 with no result):
   * whether the host kernel was reloaded (`bootIdAfter` differs from `bootIdBefore`). False when the
   * kexec never happened and every VM was restored on the running kernel (`reload-failed`).
   */
  kernelReloaded: z.boolean().optional(),
  bootIdBefore: z.string().max(64).optional(),
  bootIdAfter: z.string().max(64).optional(),
  /** A refusal lists the Preflight-style assessment of each VM instead. */
  vms: vmList(z.union([WarmRebootVmSchema, PreflightVmSchema, TrimmedWarmRebootVmSchema])),
});

export const VerifyResultSchema = z.object({
  ...common,
  document: z.literal('Verify'),
  /** Set when the run being verified did not itself end ok. */
  runOutcome: z.string().optional(),
  /** VMs excused because their guest was already silent at Preflight. */
  silentAtPreflight: SilentGuestsSchema.optional(),
  vms: vmList(VerifyVmSchema),
});

export const RecoverResultSchema = z.object({
  ...common,
  document: z.literal('Recover'),
  vms: vmList(RecoverVmSchema),
});

export const CensusResultSchema = z.object({
  ...common,
  document: z.literal('Census'),
  vms: vmList(CensusVmSchema),
  /** One per VM the request asked to adopt: `ok` when all were adopted, `partial` when some were. */
  adopted: vmList(AdoptionSchema).optional(),
});

/** The agent could not even parse its arguments (only reachable by bypassing the documents' patterns). */
export const UnparsedRequestResultSchema = z.object({
  ...common,
  document: z.literal('unknown'),
  vms: z.array(z.never()),
});

export const HostDocumentResultSchema = z.discriminatedUnion('document', [
  PreflightResultSchema,
  WarmRebootResultSchema,
  VerifyResultSchema,
  RecoverResultSchema,
  CensusResultSchema,
  UnparsedRequestResultSchema,
]);

export type PreflightResult = z.output<typeof PreflightResultSchema>;
export type WarmRebootResult = z.output<typeof WarmRebootResultSchema>;
export type WarmRebootVm = z.output<typeof WarmRebootVmSchema>;
export type VerifyResult = z.output<typeof VerifyResultSchema>;
export type RecoverResult = z.output<typeof RecoverResultSchema>;
export type CensusVm = z.output<typeof CensusVmSchema>;
export type CensusResult = z.output<typeof CensusResultSchema>;
export type HostDocumentResult = z.output<typeof HostDocumentResultSchema>;

/** stdout held no result line, or the line does not match the schema. */
export class HostResultUnreadableError extends RejuvError {
  override readonly name = 'HostResultUnreadableError';
  readonly retryable = false;
  constructor(
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`host document result unreadable: ${problem}`, options);
  }
}

/**
 * The result line is of a schema version this coordinator does not read (or names none): the host runs
 * documents of another release. Not transient: the same host prints the same line until the matching
 * documents are deployed, so the workflow goes straight to compensation, as for a failed document.
 */
export class HostResultVersionError extends RejuvError {
  override readonly name = 'HostResultVersionError';
  readonly retryable = false;
  constructor(
    /** What the line's `schemaVersion` holds, as JSON (`undefined` when it has none). */
    readonly found: string,
  ) {
    super(
      `host document result has schemaVersion ${found}; this coordinator reads version ${RESULT_SCHEMA_VERSION} only (deploy the documents of the same release)`,
    );
  }
}

/** The last line of stdout that starts with `{` (the agent prints exactly one), or undefined. */
function resultLine(stdout: string): string | undefined {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .at(-1);
}

/**
 * Parses the result line out of a document's stdout: HostResultUnreadableError when there is none or it
 * does not match the schema, HostResultVersionError when it is of another schema version.
 */
export function parseHostDocumentResult(stdout: string): HostDocumentResult {
  const line = resultLine(stdout);
  if (line === undefined) throw new HostResultUnreadableError('stdout has no JSON line');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new HostResultUnreadableError('the result line is not JSON', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HostResultUnreadableError('the result line is not a JSON object');
  const version: unknown = (value as { schemaVersion?: unknown }).schemaVersion;
  if (version !== RESULT_SCHEMA_VERSION)
    throw new HostResultVersionError(JSON.stringify(version) ?? 'undefined');
  const parsed = HostDocumentResultSchema.safeParse(value);
  if (!parsed.success)
    throw new HostResultUnreadableError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
      { cause: parsed.error },
    );
  return parsed.data;
}

/** Narrows a parsed result to one document's schema, or throws naming what arrived instead. */
export function expectDocumentResult<D extends HostDocumentResult['document']>(
  result: HostDocumentResult,
  document: D,
): Extract<HostDocumentResult, { document: D }> {
  if (result.document !== document)
    throw new HostResultUnreadableError(`expected a ${document} result, got ${result.document}`);
  return result as Extract<HostDocumentResult, { document: D }>;
}
