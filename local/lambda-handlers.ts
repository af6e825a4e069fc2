/**
 * The real handler of every function the construct deploys, imported statically (local mode binds
 * them in-process). Typed over the catalog's ids, so a function without a handler does not compile.
 */
import { handler as admit } from '../lambdas/admit.js';
import { handler as advance } from '../lambdas/advance.js';
import { handler as alarmTrigger } from '../lambdas/alarm-trigger.js';
import { handler as awaitHost } from '../lambdas/await-host.js';
import { handler as compensate } from '../lambdas/compensate.js';
import { handler as drainCheck } from '../lambdas/drain-check.js';
import { handler as drainStart } from '../lambdas/drain-start.js';
import { handler as dryRunReport } from '../lambdas/dry-run-report.js';
import { handler as hostCommandPoll } from '../lambdas/host-command-poll.js';
import { handler as hostCommandStart } from '../lambdas/host-command-start.js';
import { handler as operatorTrigger } from '../lambdas/operator-trigger.js';
import { handler as quarantine } from '../lambdas/quarantine.js';
import { handler as reap } from '../lambdas/reap.js';
import { handler as refuse } from '../lambdas/refuse.js';
import { handler as release } from '../lambdas/release.js';
import { handler as undrain } from '../lambdas/undrain.js';
import type { TriggerId, WorkflowStepId } from '../lambdas/step-catalog.js';

export type LocalHandler = (input: unknown) => Promise<unknown>;

export const STEP_HANDLERS: Readonly<Record<WorkflowStepId, LocalHandler>> = {
  Admit: admit,
  Advance: advance,
  HostCommandStart: hostCommandStart,
  HostCommandPoll: hostCommandPoll,
  DrainStart: drainStart,
  DrainCheck: drainCheck,
  Undrain: undrain,
  AwaitHost: awaitHost,
  Compensate: compensate,
  Quarantine: quarantine,
  Release: release,
  Refuse: refuse,
  DryRunReport: dryRunReport,
  Reap: reap,
};

export const TRIGGER_HANDLERS: Readonly<Record<TriggerId, LocalHandler>> = {
  AlarmTrigger: alarmTrigger,
  OperatorTrigger: operatorTrigger,
};
