/** Whether a host's management agent is connected and reporting (SSM's DescribeInstanceInformation). */
export type AgentPingStatus = 'Online' | 'ConnectionLost' | 'Inactive' | 'Unknown';

export interface HostAgentStatus {
  readonly instanceId: string;
  readonly pingStatus: AgentPingStatus;
  /** Last time the agent reported, ISO 8601; absent when never seen. */
  readonly lastPingAt?: string;
  readonly agentVersion?: string;
}

export interface HostAgents {
  status(instanceId: string): Promise<HostAgentStatus>;
}
