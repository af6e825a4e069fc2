/**
 * What the host's Preflight found that a later step must know: the guests whose heartbeat was already
 * silent before anything was touched, and every guest it checked. The state machine keeps it at
 * `$.preflight` and hands it to Verify, which then reports those guests' silence without blaming the
 * reboot for it, and to WarmReboot's poll, which names the guests of a host that does not come back
 * from its reload (it cannot ask the host then).
 */
import { z } from 'zod';

const VM_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A VM name as the host inventory spells it; never `-`, which the Verify document reads as "none". */
const VmNameSchema = z.string().regex(VM_NAME, 'VM name: 1-63 chars of a-z 0-9 -, starting alphanumeric');

/** The documents accept at most 256 VM names in one list. */
export const MAX_VMS_PER_HOST = 256;

export const SilentGuestsSchema = z.array(VmNameSchema).max(MAX_VMS_PER_HOST);

export const PreflightFindingsSchema = z
  .object({
    /** VMs whose guest printed no heartbeat during Preflight's sample; empty when all were alive. */
    silentGuests: SilentGuestsSchema,
    /** Every VM Preflight assessed (absent in findings kept by executions started before it existed). */
    guests: SilentGuestsSchema.optional(),
  })
  .strict();

export type PreflightFindings = z.output<typeof PreflightFindingsSchema>;

/**
 * The guests a Preflight result names, as findings keep them: a name no inventory could hold (the result
 * is the host's word) is left out rather than failing every later step's input, and at most as many as
 * a host may have.
 */
export function guestsOf(vmNames: readonly string[]): string[] {
  return vmNames.filter((name) => VM_NAME.test(name)).slice(0, MAX_VMS_PER_HOST);
}

/** The Verify document's `silentAtPreflight` parameter: the names, or `-` for none. */
export function silentAtPreflightParameter(findings: PreflightFindings): string {
  return findings.silentGuests.length === 0 ? '-' : findings.silentGuests.join(',');
}
