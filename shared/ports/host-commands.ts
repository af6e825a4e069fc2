/** Running SSM Command documents on a host: send, look at, cancel. */

export const TERMINAL_COMMAND_STATUSES = [
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Undeliverable',
  'Terminated',
] as const;
export const PENDING_COMMAND_STATUSES = ['Pending', 'InProgress', 'Delayed', 'Cancelling'] as const;

export type HostCommandStatus =
  (typeof TERMINAL_COMMAND_STATUSES)[number] | (typeof PENDING_COMMAND_STATUSES)[number];

export interface HostCommandRequest {
  readonly instanceId: string;
  readonly documentName: string;
  /** Document parameters, each already validated against the document's allowedPattern by the caller's schema. */
  readonly parameters: Readonly<Record<string, string>>;
  /** SSM's execution timeout for the command on the host. */
  readonly executionTimeoutSeconds: number;
  /**
   * Unique per workflow step (at most 100 characters, stored as the command's Comment). Sending the same
   * step twice returns the first command instead of running the document again.
   */
  readonly stepKey: string;
}

export interface HostCommandInvocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly status: HostCommandStatus;
  /** The document's exit code; -1 while it has none. */
  readonly responseCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HostCommands {
  /** Sends the document, or finds the command already sent for `stepKey`; returns its id. */
  send(request: HostCommandRequest): Promise<{ commandId: string }>;
  invocation(commandId: string, instanceId: string): Promise<HostCommandInvocation>;
  cancel(commandId: string, instanceId: string): Promise<void>;
}
