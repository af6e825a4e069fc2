/** A dry run stops after the checks; it records, step by step, what a real run would have done. */
import { auditStep } from './audit-step.js';
import type { WorkflowContext } from './workflow-context.js';
import type { WorkflowDeps } from './workflow-deps.js';

const WOULD = [
  ['Drain', 'ADMITTED>DRAINING>DRAINED: deregister targets and cordon'],
  ['WarmReboot', 'DRAINED>SUSPENDING>RELOADING>RESUMING: suspend every VM in memory, reload, resume'],
  ['AwaitHost', 'wait for the agent to report back'],
  ['Verify', 'RESUMING>VERIFYING: guests running, heartbeats advanced, new hypervisor processes'],
  ['Undrain', 'VERIFYING>UNDRAINING>IN_SERVICE: register targets and uncordon'],
] as const;

export async function reportDryRun(deps: WorkflowDeps, ctx: WorkflowContext): Promise<WorkflowContext> {
  for (const [step, would] of WOULD) {
    await auditStep(deps, ctx, {
      key: 'dry-run',
      step,
      outcome: 'skipped',
      detail: { dryRun: true, would, level: ctx.request.level },
    });
  }
  return ctx;
}
