import { DescribeInstanceInformationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { InstanceIdSchema } from '../../domain/identifiers.js';
import { parseWith } from '../../domain/validation.js';
import type { AgentPingStatus, HostAgentStatus, HostAgents } from '../../ports/host-agents.js';

const PING_STATUSES: readonly AgentPingStatus[] = ['Online', 'ConnectionLost', 'Inactive'];

/** The agent's own report of itself; an instance SSM does not list is `Unknown`, not an error. */
export class SsmHostAgents implements HostAgents {
  constructor(private readonly client: SSMClient) {}

  async status(instanceId: string): Promise<HostAgentStatus> {
    parseWith(InstanceIdSchema, 'instance id', instanceId);
    const out = await this.client.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
    );
    const info = (out.InstanceInformationList ?? []).find((i) => i.InstanceId === instanceId);
    if (info === undefined) return { instanceId, pingStatus: 'Unknown' };
    const ping = PING_STATUSES.find((s) => s === info.PingStatus) ?? 'Unknown';
    return {
      instanceId,
      pingStatus: ping,
      ...(info.LastPingDateTime === undefined ? {} : { lastPingAt: info.LastPingDateTime.toISOString() }),
      ...(info.AgentVersion === undefined ? {} : { agentVersion: info.AgentVersion }),
    };
  }
}
