/** The agent-status adapter through the real SDK client against the local SSM endpoint. */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  localSsmClient,
  startLocalSsmEndpoint,
  type RunningLocalSsm,
} from '../../../local/ssm-endpoint/ssm-endpoint.js';
import { SsmUnavailableError } from '../../../shared/adapters/ssm/errors.js';
import { SsmHostAgents } from '../../../shared/adapters/ssm/ssm-host-agents.js';
import { ManualClock } from '../../../shared/domain/clock.js';
import { ValidationError } from '../../../shared/domain/errors.js';
import { instantExecutor } from './ssm-test-kit.js';

const EC2_HOST = 'i-0123456789abcdef0';
const HYBRID_HOST = 'mi-0123456789abcdef0';
const START = Date.UTC(2026, 0, 1);

let clock: ManualClock;
let ssm: RunningLocalSsm;
let client: SSMClient;
let agents: SsmHostAgents;

beforeAll(async () => {
  clock = new ManualClock(START);
  ssm = await startLocalSsmEndpoint({
    documents: {},
    hosts: { [EC2_HOST]: { hostRoot: '/nonexistent/a' }, [HYBRID_HOST]: { hostRoot: '/nonexistent/b' } },
    executor: instantExecutor({ status: 'Success', responseCode: 0, stdout: '', stderr: '' }).executor,
    clock,
    agentVersion: '3.3.1234.0',
  });
  client = localSsmClient(ssm.endpoint, { maxAttempts: 1 });
  agents = new SsmHostAgents(client);
});

afterAll(async () => {
  client?.destroy();
  await ssm?.stop();
});

describe('Class: SsmHostAgents', () => {
  describe('Method: status', () => {
    it('reports an online agent with its last ping and version', async () => {
      expect(await agents.status(EC2_HOST)).toEqual({
        instanceId: EC2_HOST,
        pingStatus: 'Online',
        lastPingAt: new Date(START).toISOString(),
        agentVersion: '3.3.1234.0',
      });
    });

    it('reports an agent gone offline as ConnectionLost, last seen when it went', async () => {
      clock.advance(60_000);
      ssm.setOnline(HYBRID_HOST, false);
      clock.advance(60_000);
      expect(await agents.status(HYBRID_HOST)).toMatchObject({
        pingStatus: 'ConnectionLost',
        lastPingAt: new Date(START + 60_000).toISOString(),
      });
      expect((await agents.status(EC2_HOST)).pingStatus).toBe('Online');
      ssm.setOnline(HYBRID_HOST, true);
      expect(await agents.status(HYBRID_HOST)).toMatchObject({
        pingStatus: 'Online',
        lastPingAt: new Date(START + 120_000).toISOString(),
      });
    });

    it('reports an instance SSM does not manage as Unknown, not as an error', async () => {
      expect(await agents.status('i-00000000000000bad')).toEqual({
        instanceId: 'i-00000000000000bad',
        pingStatus: 'Unknown',
      });
    });

    it('throws a retryable SsmUnavailableError when SSM throttles past the SDK retries', async () => {
      ssm.failNext('DescribeInstanceInformation', 'ThrottlingException');
      const status = agents.status(EC2_HOST);
      await expect(status).rejects.toThrow(SsmUnavailableError);
      await expect(status).rejects.toMatchObject({ retryable: true, code: 'ThrottlingException' });
    });

    it('refuses a malformed instance id without asking SSM', async () => {
      const before = ssm.requestCount('DescribeInstanceInformation');
      await expect(agents.status('host-a')).rejects.toThrow(ValidationError);
      expect(ssm.requestCount('DescribeInstanceInformation')).toBe(before);
    });
  });
});
