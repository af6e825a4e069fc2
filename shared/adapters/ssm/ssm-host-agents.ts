import { DescribeInstanceInformationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { InstanceIdSchema } from '../../domain/identifiers.js';
import { parseWith } from '../../domain/validation.js';
import type { AgentPingStatus, HostAgentStatus, HostAgents } from '../../ports/host-agents.js';
import { toSsmError } from './errors.js';

const PING_STATUSES: readonly AgentPingStatus[] = ['Online', 'ConnectionLost', 'Inactive'];

/**
 * The SSM agent's own report of itself (DescribeInstanceInformation). An instance SSM does not list, or
 * refuses as InvalidInstanceId, is `Unknown` rather than an error: after a host reboot the agent may not
 * have registered again yet, and the caller is waiting for exactly that.
 *
 * IAM: ssm:DescribeInstanceInformation (on `*`; it supports no resource-level permissions).
 *
 * @example
 * const agents = new SsmHostAgents(new SSMClient({}));
 * const { pingStatus } = await agents.status('i-0123456789abcdef0'); // 'Online' | 'ConnectionLost' | …
 */
export class SsmHostAgents implements HostAgents {
  constructor(private readonly client: SSMClient) {}

  /** @throws ValidationError for a malformed id; SsmUnavailableError (retryable) when SSM does not answer. */
  async status(instanceId: string): Promise<HostAgentStatus> {
    parseWith(InstanceIdSchema, 'instance id', instanceId);
    const out = await this.client
      .send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
      )
      .catch((error: unknown) => {
        if (error instanceof Error && error.name === 'InvalidInstanceId') return undefined;
        throw toSsmError(error, { operation: 'DescribeInstanceInformation', instanceId });
      });
    const info = out?.InstanceInformationList?.find((i) => i.InstanceId === instanceId);
    if (info === undefined) return { instanceId, pingStatus: 'Unknown' };
    return {
      instanceId,
      pingStatus: PING_STATUSES.find((s) => s === info.PingStatus) ?? 'Unknown',
      ...(info.LastPingDateTime === undefined ? {} : { lastPingAt: info.LastPingDateTime.toISOString() }),
      ...(info.AgentVersion === undefined ? {} : { agentVersion: info.AgentVersion }),
    };
  }
}
