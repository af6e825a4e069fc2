/**
 * What the operator use cases (register, deregister, release a host) need, as ports: the operator API's
 * Lambda builds it from the DynamoDB store and the SSM adapter; tests pass the same adapters against
 * local endpoints.
 */
import { z } from 'zod';
import type { Clock } from '../domain/clock.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { HostCommands } from '../ports/host-commands.js';
import type { HostLock } from '../ports/host-lock.js';
import type { HostRepository } from '../ports/host-repository.js';
import { WorkflowConfigSchema } from '../workflow/workflow-config.js';

/** The documents a release runs before putting a quarantined host back in service, in this order. */
export const RELEASE_CHECKS = ['Preflight', 'Verify'] as const;
export type ReleaseCheck = (typeof RELEASE_CHECKS)[number];

export const OperatorConfigSchema = z
  .object({
    /** How long the host lock lasts; the release renews it after each check. */
    leaseDurationMs: WorkflowConfigSchema.shape.leaseDurationMs,
    /** The deployed names of the host documents (the workflow's; only Preflight and Verify are used). */
    documents: WorkflowConfigSchema.shape.documents,
    /**
     * Deadline of each document, from send to result: a check still running then is cancelled and fails.
     * The function running a release must be allowed Preflight's and Verify's together, and more.
     */
    commandTimeoutSeconds: WorkflowConfigSchema.shape.commandTimeoutSeconds,
    /**
     * The host Census document (`rejuv hosts inventory`): its deployed name and its deadline, from send to
     * result. @default - the inventory action is refused as not configured
     */
    census: z
      .strictObject({
        documentName: z.string().regex(/^[A-Za-z0-9_.-]{3,128}$/, 'SSM document name'),
        timeoutSeconds: z.number().int().min(5).max(600).default(120),
      })
      .optional(),
    /** How long to wait between two looks at a running check. */
    checkPollIntervalMs: z.number().int().min(10).max(60_000).default(2_000),
  })
  .strict();

export type OperatorConfig = z.output<typeof OperatorConfigSchema>;

export interface OperatorUseCaseDeps {
  readonly hosts: HostRepository;
  readonly audit: AuditLog;
  readonly hostLock: HostLock;
  readonly hostCommands: HostCommands;
  readonly clock: Clock;
  /** Waits between polls of a check; injected so tests (and a ManualClock) need not sleep for real. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly config: OperatorConfig;
}

/** The fields every operator audit record shares. */
export function operatorAuditBase(deps: Pick<OperatorUseCaseDeps, 'clock'>, principal: string, step: string) {
  return {
    at: new Date(deps.clock.nowMs()).toISOString(),
    principal,
    trigger: 'operator' as const,
    step,
  };
}
