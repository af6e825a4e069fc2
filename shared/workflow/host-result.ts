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
  })
  .loose()
  .transform((r) => ({
    ...r,
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
