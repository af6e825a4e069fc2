/** Campaigns: the state machine that runs the per-host workflow for each host of one or more pools. */
import { Duration, Names } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  LogLevel,
  StateMachine,
  StateMachineType,
  type IStateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CampaignStepId } from '../lambdas/step-catalog.js';
import { buildCampaignWorkflow } from './campaign-workflow.js';

export interface CampaignsProps {
  /** The function of each campaign step. */
  readonly steps: Readonly<Record<CampaignStepId, IFunction>>;
  /** The per-host state machine a campaign runs as a child execution per host. */
  readonly hostWorkflow: IStateMachine;
  /** Pause before planning again when nothing could start. */
  readonly replanInterval: Duration;
  /** Passes one execution runs before it continues as a new execution. */
  readonly passesPerExecution: number;
  /** How long a campaign waits for its approval before it ends `rejected`. */
  readonly approvalTimeout: Duration;
  /** How long the execution logs are kept. */
  readonly logRetention: RetentionDays;
}

/**
 * The campaign state machine. Its resources are created in `scope`, not under this construct, so that
 * their logical ids, and the machine's name derived from the path of `scope`, stay those of the deployed
 * stacks (see HostDocuments).
 */
export class Campaigns extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: CampaignsProps) {
    super(scope, id);
    // A campaign continues as new by starting its own machine, which it must name: a Ref to itself in its
    // own definition and role would be a cycle. The name is derived from the construct path, as CDK
    // generates physical names, so two coordinators never share one.
    const name = Names.uniqueResourceName(scope, { maxLength: 70, separator: '-' }) + '-campaign';
    this.stateMachine = new StateMachine(scope, 'CampaignStateMachine', {
      stateMachineName: name,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(
        buildCampaignWorkflow(scope, props.steps, props.hostWorkflow, {
          replanInterval: props.replanInterval,
          passesPerExecution: props.passesPerExecution,
          self: StateMachine.fromStateMachineName(scope, 'CampaignStateMachineByName', name),
          approvalTimeout: props.approvalTimeout,
        }),
      ),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(scope, 'CampaignStateMachineLogs', { retention: props.logRetention }),
        level: LogLevel.ALL,
        includeExecutionData: true,
      },
      // A campaign over a fleet takes as long as the fleet needs: Standard executions last up to a year.
      timeout: Duration.days(30),
    });
  }
}
