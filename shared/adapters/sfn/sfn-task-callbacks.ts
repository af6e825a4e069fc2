import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { TaskCallbacks } from '../../ports/task-callbacks.js';

/**
 * What Step Functions answers for a token whose task no longer waits: TaskTimedOut (answered, timed out,
 * or its execution ended), TaskDoesNotExist, InvalidToken. The caller has recorded its decision already,
 * and the step reads the record whenever it next runs, so none of these is an error for it.
 */
const TASK_GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export class SfnTaskCallbacks implements TaskCallbacks {
  constructor(private readonly client: SFNClient) {}

  async succeed(token: string, output: object): Promise<boolean> {
    return this.answer(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
  }

  async fail(token: string, error: string, cause: string): Promise<boolean> {
    // Step Functions' limits: error 256 characters, cause 32,768.
    return this.answer(
      new SendTaskFailureCommand({
        taskToken: token,
        error: error.slice(0, 256),
        cause: cause.slice(0, 32_768),
      }),
    );
  }

  private async answer(command: SendTaskSuccessCommand | SendTaskFailureCommand): Promise<boolean> {
    try {
      // The two commands' send overloads differ only in their output types, which are both empty.
      await this.client.send(command as SendTaskSuccessCommand);
      return true;
    } catch (error) {
      if (error instanceof Error && TASK_GONE.has(error.name)) return false;
      throw error;
    }
  }
}
