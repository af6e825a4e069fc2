import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { ExecutionStarter, StartedExecution } from '../../ports/execution-starter.js';

/**
 * Execution names are unique per state machine (for 90 days), so a deterministic name is the last
 * guard against a duplicate start: Step Functions refuses it with ExecutionAlreadyExists, or, for the
 * same input, returns the existing execution. Callers dedupe before this (the idempotency store).
 */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(executionName: string, input: unknown): Promise<StartedExecution> {
    try {
      const started = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionName,
          input: JSON.stringify(input),
        }),
      );
      return { executionArn: started.executionArn ?? '', executionName, started: true };
    } catch (error) {
      if (
        error instanceof ExecutionAlreadyExists ||
        (error instanceof Error && error.name === 'ExecutionAlreadyExists')
      ) {
        return {
          executionArn: `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`,
          executionName,
          started: false,
        };
      }
      throw error;
    }
  }
}
