/** The per-host rejuvenation workflow: its state machine (rejuvenation-workflow.ts) and its logs. */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { WorkflowStepId } from '../lambdas/step-catalog.js';
import { buildRejuvenationWorkflow } from './rejuvenation-workflow.js';

export interface PerHostWorkflowProps {
  /** The function of each step. */
  readonly steps: Readonly<Record<WorkflowStepId, IFunction>>;
  /** Pause between two looks at a running host command, a drain, or the host's agent. */
  readonly pollInterval: Duration;
  /** How long the execution logs are kept. */
  readonly logRetention: RetentionDays;
}

/**
 * One Standard execution per host rejuvenation: admit, drain, warm reboot, verify, release, compensating
 * or quarantining on failure, every execution logged in full and traced. Its resources are created in
 * `scope`, not under this construct, so that their logical ids stay those of the deployed stacks (see
 * HostDocuments).
 */
export class PerHostWorkflow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: PerHostWorkflowProps) {
    super(scope, id);
    const logs = new LogGroup(scope, 'StateMachineLogs', { retention: props.logRetention });
    this.stateMachine = new StateMachine(scope, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(
        buildRejuvenationWorkflow(scope, props.steps, {
          pollInterval: props.pollInterval,
          poolSlotRetryInterval: Duration.seconds(30),
          poolSlotMaxAttempts: 20,
        }),
      ),
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.hours(24),
    });
  }
}
