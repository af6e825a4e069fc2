/**
 * The one JSON line each host document prints on stdout, as schemas the coordinator can reuse. The
 * agent (host/agent/rejuv_agent/) is the producer; these schemas are the contract it is tested against.
 */
import { z } from 'zod';
import { RejuvError } from '../../shared/domain/errors.js';

export const RESULT_SCHEMA_VERSION = 1;

/** Document-level outcome. `partial`: Recover brought back some VMs but not all. */
export const HostOutcomeSchema = z.enum(['ok', 'refused', 'failed', 'partial']);

const common = {
  schemaVersion: z.literal(RESULT_SCHEMA_VERSION),
  outcome: HostOutcomeSchema,
  reason: z.string().optional(),
  /** Machine-readable reason, e.g. `unknown-vm`, `level-unsupported`, `vm-not-ready`, `busy`, `suspend-failed`. */
  reasonCode: z.string().optional(),
  runId: z.string().optional(),
};

const name = z.string();
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

export const PreflightVmSchema = z.object({
  name,
  outcome: z.enum(['ready', 'refused']),
  reason: z.string().optional(),
  pid: pid.optional(),
  status: z.string().optional(),
  ramBytes: z.number().int().nonnegative().optional(),
  ramBackends: z.array(RamBackendSchema).optional(),
  heartbeat: HeartbeatSampleSchema.optional(),
});

/** Milliseconds per phase: stop, save, quit (old process), start, restore, cont (new process). */
export const PhaseTimesSchema = z.record(z.string(), z.number().nonnegative());

export const WarmRebootVmSchema = z.object({
  name,
  /**
   * `rolled-back`: its suspend failed and it was continued in its original process; `untouched`: the
   * rollout stopped at another VM's failure before this one began.
   */
  outcome: z.enum(['resumed', 'rolled-back', 'failed', 'untouched']),
  reason: z.string().optional(),
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

export const VerifyVmSchema = z.object({
  name,
  /**
   * `silent-at-preflight`: the guest's heartbeat was already silent before the run and still is; its
   * process checks passed, and it does not fail the verification.
   */
  outcome: z.enum(['verified', 'failed', 'silent-at-preflight']),
  reason: z.string().optional(),
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
  reason: z.string().optional(),
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
  silentVms: z.array(name).optional(),
  vms: z.array(PreflightVmSchema),
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
  bootIdBefore: z.string().optional(),
  bootIdAfter: z.string().optional(),
  /** A refusal lists the Preflight-style assessment of each VM instead. */
  vms: z.array(z.union([WarmRebootVmSchema, PreflightVmSchema])),
});

export const VerifyResultSchema = z.object({
  ...common,
  document: z.literal('Verify'),
  /** Set when the run being verified did not itself end ok. */
  runOutcome: z.string().optional(),
  /** VMs excused because their guest was already silent at Preflight. */
  silentAtPreflight: z.array(name).optional(),
  vms: z.array(VerifyVmSchema),
});

export const RecoverResultSchema = z.object({
  ...common,
  document: z.literal('Recover'),
  vms: z.array(RecoverVmSchema),
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
  UnparsedRequestResultSchema,
]);

export type PreflightResult = z.output<typeof PreflightResultSchema>;
export type WarmRebootResult = z.output<typeof WarmRebootResultSchema>;
export type WarmRebootVm = z.output<typeof WarmRebootVmSchema>;
export type VerifyResult = z.output<typeof VerifyResultSchema>;
export type RecoverResult = z.output<typeof RecoverResultSchema>;
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

/** Parses the result line out of a document's stdout (the last line that starts with `{`). */
export function parseHostDocumentResult(stdout: string): HostDocumentResult {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (line === undefined) throw new HostResultUnreadableError('stdout has no JSON line');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new HostResultUnreadableError('the result line is not JSON', { cause: error });
  }
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
