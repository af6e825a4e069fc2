/**
 * The one JSON line a host document prints. The coordinator reads only what it needs for decisions and
 * the audit trail: the overall outcome, reasons, and per-VM outcomes; the rest passes through.
 */
import { z } from 'zod';
import { SilentGuestsSchema } from './preflight-findings.js';

const VmResultSchema = z
  .object({
    name: z.string().max(128),
    outcome: z.string().max(64),
    reason: z.string().max(2048).optional(),
    pauseMs: z.number().nonnegative().optional(),
  })
  .loose();

/** A VM process Preflight's census found (host/results CensusVmSchema); only what the audit names. */
const CensusVmSchema = z
  .object({
    name: z.string().max(128),
    outcome: z.string().max(64),
    reason: z.string().max(2048).optional(),
    pid: z.number().int().positive().optional(),
  })
  .loose();

/** The census statuses of VMs the agent rejuvenates, or has no process for: every other one is left out. */
const RUN_BY_THE_AGENT = new Set(['managed', 'missing']);

export const HostResultSchema = z
  .object({
    outcome: z.enum(['ok', 'refused', 'failed', 'partial']),
    reason: z.string().max(4096).optional(),
    /** Why, as a word a program can match on (e.g. Verify's `unknown-run`); alongside `reason`. */
    reasonCode: z.string().max(4096).optional(),
    vms: z.array(VmResultSchema).max(1024).default([]),
    /** Preflight: the guests whose heartbeat was already silent. */
    silentVms: SilentGuestsSchema.optional(),
    /** Verify: the guests it did not fail because they were silent at Preflight. */
    silentAtPreflight: SilentGuestsSchema.optional(),
    /** WarmReboot at level `kernel`: whether the host kernel was reloaded, and the boots around it. */
    kernelReloaded: z.boolean().optional(),
    bootIdBefore: z.string().max(64).optional(),
    bootIdAfter: z.string().max(64).optional(),
    /** Preflight: every VM process on the host, and how the agent stands to it. */
    census: z.array(CensusVmSchema).max(1024).optional(),
    /** Census: one per VM the request asked to adopt (`adopted`, or `refused` with the reason). */
    adopted: z.array(VmResultSchema).max(1024).optional(),
  })
  .loose()
  .transform((r) => ({
    ...r,
    /** The VM processes on the host the agent does not rejuvenate, each in a line with why. */
    notRejuvenated: (r.census ?? [])
      .filter((vm) => !RUN_BY_THE_AGENT.has(vm.outcome))
      .map(
        (vm) =>
          `${vm.name} (${vm.pid === undefined ? '' : `pid ${vm.pid}, `}${vm.outcome})${vm.reason === undefined ? '' : `: ${vm.reason}`}`,
      ),
    reasons: [
      ...(r.reason === undefined ? [] : [r.reason]),
      ...r.vms.filter((vm) => vm.reason !== undefined).map((vm) => `${vm.name}: ${vm.reason}`),
    ],
  }));

export type HostResult = z.output<typeof HostResultSchema>;

/** The last line of stdout that is a well-formed result; undefined when there is none. */
export function readHostResult(stdout: string): HostResult | undefined {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      const parsed = HostResultSchema.safeParse(JSON.parse(line));
      if (parsed.success) return parsed.data;
    } catch {
      // Not JSON after all; keep looking.
    }
  }
  return undefined;
}
