/** Starts one workflow execution under a deterministic name, so a repeated start starts nothing new. */
export interface StartedExecution {
  readonly executionArn: string;
  readonly executionName: string;
  /** False when an execution of that name already existed. */
  readonly started: boolean;
}

export interface ExecutionStarter {
  start(executionName: string, input: unknown): Promise<StartedExecution>;
}
