/**
 * Host inventory: an operator asks what VMs run on a host, and may have the adoptable ones written into
 * its inventory. The host's Census document does both (the agent counts every VM process, and writes an
 * entry from a running argv only where none exists); this sends it, waits for its one result line, and
 * returns the census. Adopting changes what the next rejuvenation of the host acts on, so it is refused
 * while an execution owns the host, and it is audited on the host's chain; a census alone changes nothing.
 *
 * Retries: the census's run id is fixed by the host's registration and `requestId`, so a retried request
 * finds its command already sent (SSM's step key) and its audit record already appended.
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { hostChainId } from '../domain/audit-record.js';
import {
  HostCommandFailedError,
  HostCommandTimeoutError,
  HostNotFoundError,
  ValidationError,
} from '../domain/errors.js';
import type { Host } from '../domain/host.js';
import { HostIdSchema, PrincipalSchema } from '../domain/identifiers.js';
import { parseWith } from '../domain/validation.js';
import { readHostResult } from '../workflow/host-result.js';
import { refuseOwned } from './deregister-host.js';
import { findHost } from './find-host.js';
import { operatorAuditBase, type OperatorUseCaseDeps } from './operator-deps.js';
import { ReleaseHostInputSchema } from './release-host.js';
import { runHostDocument } from './run-host-document.js';

const VM_NAME = '[a-z0-9][a-z0-9-]{0,62}';

export const HostInventoryInputSchema = z
  .object({
    hostId: HostIdSchema,
    /**
     * Which adoptable VMs get an inventory entry: their census names, `*` for all of them, `-` for none
     * (the census only). The Census document's `adopt` parameter, with its pattern.
     */
    adopt: z
      .string()
      .regex(
        new RegExp(`^(-|\\*|${VM_NAME}(,${VM_NAME}){0,255})$`),
        'adopt: -, *, or comma-separated VM names (a-z 0-9 -)',
      )
      .default('-'),
    /** Makes a retried request idempotent; without it, every request is a fresh census. */
    requestId: ReleaseHostInputSchema.shape.requestId,
  })
  .strict();

export type HostInventoryInput = z.input<typeof HostInventoryInputSchema>;

export interface HostInventoryResult {
  readonly hostId: string;
  /** The census's run id on the host (also its command's step key prefix). */
  readonly runId: string;
  readonly commandId: string;
  /** The agent's word: `ok`, `partial` (some adoptions refused), `refused` (all of them), `failed`. */
  readonly outcome: string;
  readonly reason?: string;
  /** Every VM process on the host, and every inventory entry without one (host/results CensusVmSchema). */
  readonly vms: readonly Record<string, unknown>[];
  /** One per VM asked to adopt (host/results AdoptionSchema). */
  readonly adopted: readonly Record<string, unknown>[];
}

const STEP = 'HostInventory';

/** The census's run id: fixed by the host's registration and the request id, in the agent's alphabet. */
export function censusRunId(host: Pick<Host, 'hostId' | 'createdAt'>, requestId: string): string {
  const digest = createHash('sha256')
    .update(`${host.hostId}\n${host.createdAt}\n${requestId}`)
    .digest('hex')
    .slice(0, 16);
  return `inv-${host.hostId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56)}-${digest}`;
}

export async function hostInventory(
  deps: Pick<OperatorUseCaseDeps, 'hosts' | 'audit' | 'hostCommands' | 'clock' | 'sleep' | 'config'>,
  principal: string,
  input: unknown,
): Promise<HostInventoryResult> {
  const who = parseWith(PrincipalSchema, 'principal', principal);
  const {
    hostId,
    adopt,
    requestId = randomUUID(),
  } = parseWith(HostInventoryInputSchema, 'inventory request', input);
  const census = deps.config.census;
  if (census === undefined)
    throw new ValidationError('inventory request', ['the Census document is not configured here']);
  const host = await findHost(deps.hosts, hostId);
  if (host === undefined) throw new HostNotFoundError(hostId);
  const adopting = adopt !== '-';
  // An execution acts on the inventory as it was when it began: adopting mid-run would change its VMs.
  if (adopting) refuseOwned(host);
  const runId = censusRunId(host, requestId);
  const run = await runHostDocument(deps, {
    instanceId: host.instanceId,
    documentName: census.documentName,
    parameters: { runId, adopt },
    executionTimeoutSeconds: census.timeoutSeconds,
    stepKey: `${runId}:Census`,
  });
  if (!run.ended)
    throw new HostCommandTimeoutError(
      hostId,
      'Census',
      run.commandId,
      `its ${census.timeoutSeconds} s deadline`,
    );
  const reading = readHostResult(run.invocation.stdout, 'Census');
  const result = reading.result?.document === 'Census' ? reading.result : undefined;
  if (result === undefined || result.outcome === 'failed')
    throw new HostCommandFailedError(
      hostId,
      'Census',
      run.commandId,
      result === undefined
        ? `status ${run.invocation.status}, exit ${run.invocation.responseCode}, ${reading.problem ?? 'no result line'}; stderr: ${run.invocation.stderr.slice(-500)}`
        : result.reasons.join('; ') || 'no reason given',
    );
  const adopted = result.adopted ?? [];
  if (adopting)
    await deps.audit.append(hostChainId(hostId), {
      ...operatorAuditBase(deps, who, STEP),
      eventId: `operator:inventory:${runId}`,
      outcome: result.outcome === 'refused' ? 'refused' : 'succeeded',
      fromState: host.state,
      toState: host.state,
      ...(result.reason === undefined ? {} : { reason: result.reason.slice(0, 1024) }),
      detail: {
        change: 'adopt',
        asked: adopt,
        adopted: namesWith(adopted, 'adopted'),
        refused: namesWith(adopted, 'refused'),
        commandId: run.commandId,
      },
    });
  return {
    hostId,
    runId,
    commandId: run.commandId,
    outcome: result.outcome,
    ...(result.reason === undefined ? {} : { reason: result.reason }),
    vms: result.vms,
    adopted,
  };
}

function namesWith(adoptions: readonly Record<string, unknown>[], outcome: string): string {
  return adoptions
    .filter((a) => a['outcome'] === outcome)
    .map((a) => String(a['name']))
    .join(',');
}
