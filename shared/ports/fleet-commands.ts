/**
 * One SSM Command document sent to a fleet by tag, under SSM's rate controls, and each instance's result
 * read back: what the aging collector needs of Run Command (per-host sends are HostCommands).
 */
import type { HostCommandStatus } from './host-commands.js';

export interface FleetCommandRequest {
  readonly documentName: string;
  readonly parameters: Readonly<Record<string, string>>;
  /** Every managed instance with this tag value receives the command. */
  readonly tag: { readonly key: string; readonly value: string };
  /** SSM's MaxConcurrency and MaxErrors: a number, or a percentage of the targets (`10%`). */
  readonly maxConcurrency: string;
  readonly maxErrors: string;
  /** SendCommand's TimeoutSeconds: how long an invocation may wait for its agent. */
  readonly deliveryTimeoutSeconds: number;
  /** Names the send (kept as the command's Comment, at most 100 characters): how a retry finds it. */
  readonly sendKey: string;
}

export interface FleetInvocation {
  readonly instanceId: string;
  readonly status: HostCommandStatus;
  /** SSM's finer status (Terminated, AccessDenied, DeliveryTimedOut, ...). */
  readonly statusDetails: string;
  readonly responseCode: number;
  /** The whole stdout SSM keeps (24,000 characters); empty until the invocation ended. */
  readonly stdout: string;
}

export interface FleetCommands {
  /** Sends the document to the tagged fleet; returns the command's id. */
  send(request: FleetCommandRequest): Promise<{ commandId: string }>;
  /** The command sent under `sendKey` for this document, if SSM still lists one. */
  findSent(documentName: string, sendKey: string): Promise<string | undefined>;
  /** Every invocation of the command, with stdout for those that ended. */
  invocations(commandId: string): Promise<FleetInvocation[]>;
}
