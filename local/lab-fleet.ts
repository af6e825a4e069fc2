/** Lab hosts (real QEMU VMs) registered with a local environment: in the host registry and with SSM; and a synthetic aging alarm. */
import { readHeartbeatLog, type HeartbeatLog } from '../host/lab/heartbeat-log.js';
import { installKernelHostAgent } from '../host/lab/kernel-host-agent.js';
import { nestedHeartbeatVm, startNestedVm, type NestedVm } from '../host/lab/kernel-host-cycle.js';
import { kernelHostNode } from '../host/lab/kernel-host-node.js';
import { startKernelHost, type KernelHost } from '../host/lab/kernel-host.js';
import { createLabHost, type LabHost } from '../host/lab/lab-host.js';
import type { GuestRam } from '../host/lab/test-vm.js';
import type { LocalEnvironment } from './local-environment.js';
import type { ManagedNode } from './ssm-endpoint/ssm-endpoint.js';

export interface FleetHost {
  readonly hostId: string;
  readonly instanceId: string;
  readonly pool: string;
  readonly lab: LabHost;
  heartbeats(): Promise<Record<string, HeartbeatLog>>;
}

let instanceCounter = 0;

/**
 * Onboards a lab host as an operator would: in the registry, and with SSM under a fresh instance id,
 * tagged (SendCommand is allowed only to instances with the managed tag).
 */
async function onboard(
  env: LocalEnvironment,
  spec: { hostId: string; pool: string },
  hostRoot: string,
  node?: ManagedNode,
): Promise<string> {
  const instanceId = `mi-${(0x1000 + ++instanceCounter).toString(16).padStart(17, '0')}`;
  await env.store.hosts.register({
    hostId: spec.hostId,
    pool: spec.pool,
    availabilityZone: 'local-1a',
    instanceId,
  });
  env.ssm.registerHost(instanceId, hostRoot, { 'rejuv:managed': 'true', 'rejuv:pool': spec.pool }, node);
  return instanceId;
}

export async function addFleetHost(
  env: LocalEnvironment,
  spec: {
    hostId: string;
    pool: string;
    vms: readonly { name: string; ram?: GuestRam; leakCallsPerTick?: number }[];
  },
): Promise<FleetHost> {
  const lab = await createLabHost();
  for (const vm of spec.vms)
    await lab.addVm({
      name: vm.name,
      memoryMiB: 64,
      ram: vm.ram ?? 'shared-shm',
      ...(vm.leakCallsPerTick === undefined ? {} : { leakCallsPerTick: vm.leakCallsPerTick }),
    });
  await lab.launch();
  const instanceId = await onboard(env, spec, lab.root);
  return {
    hostId: spec.hostId,
    instanceId,
    pool: spec.pool,
    lab,
    heartbeats: async () =>
      Object.fromEntries(
        await Promise.all(
          [...lab.vms.values()].map(
            async (vm) => [vm.name, await readHeartbeatLog(vm.heartbeat.log)] as const,
          ),
        ),
      ),
  };
}

export interface KernelFleetHost {
  readonly hostId: string;
  readonly instanceId: string;
  readonly pool: string;
  readonly kernelHost: KernelHost;
  readonly vm: NestedVm;
  /** Fault seams of the node's SSM agent; set them in a test, clear them after. */
  readonly faults: {
    beforeReboot?: (() => Promise<void>) | undefined;
    afterReboot?: (() => Promise<void>) | undefined;
  };
  heartbeats(): Promise<HeartbeatLog>;
}

/**
 * A kernel host (a real Linux host in a TCG VM: host/lab/kernel-host.ts) with one nested heartbeat guest,
 * in the host registry and managed by the local SSM: documents run in its kernel, and exit 194 reboots
 * it for real.
 */
export async function addKernelFleetHost(
  env: LocalEnvironment,
  spec: { hostId: string; pool: string; vmName: string },
): Promise<KernelFleetHost> {
  const kernelHost = await startKernelHost();
  const vm = await nestedHeartbeatVm(kernelHost, spec.vmName);
  await startNestedVm(kernelHost, vm);
  await installKernelHostAgent(kernelHost, vm);
  const faults: KernelFleetHost['faults'] = {};
  const node = kernelHostNode(kernelHost, {
    beforeReboot: async () => faults.beforeReboot?.(),
    afterReboot: async () => faults.afterReboot?.(),
  });
  const instanceId = await onboard(env, spec, kernelHost.root, node);
  return {
    hostId: spec.hostId,
    instanceId,
    pool: spec.pool,
    kernelHost,
    vm,
    faults,
    heartbeats: () => readHeartbeatLog(vm.heartbeatLog),
  };
}

/** `at` as CloudWatch writes a state timestamp: 2026-11-25T10:00:00.985+0000. */
export function cloudWatchTimestamp(at: Date = new Date()): string {
  return at.toISOString().replace('Z', '+0000');
}

/**
 * An EventBridge "CloudWatch Alarm State Change" event for an aging alarm on `hostId`; by default one
 * that changed state just now, since the trigger refuses state changes EventBridge would no longer
 * deliver.
 */
export function agingAlarmEvent(hostId: string, stateTimestamp: string = cloudWatchTimestamp()) {
  return {
    version: '0',
    id: `evt-${stateTimestamp}`,
    source: 'aws.cloudwatch',
    'detail-type': 'CloudWatch Alarm State Change',
    account: '000000000000',
    region: 'local',
    // EventBridge's own time is RFC 3339; CloudWatch's state timestamp has a +0000 offset.
    time: `${stateTimestamp.slice(0, 19)}Z`,
    resources: [`arn:aws:cloudwatch:local:000000000000:alarm:rejuv-aging-${hostId}`],
    detail: {
      alarmName: `rejuv-aging-${hostId}`,
      state: { value: 'ALARM', reason: 'hypervisor RSS grew 40% in 7 days', timestamp: stateTimestamp },
      previousState: { value: 'OK', timestamp: '2026-11-24T00:00:00.000+0000' },
      configuration: {
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                namespace: 'Rejuv/Hypervisor',
                name: 'QemuRssGrowth',
                dimensions: { HostId: hostId },
              },
              period: 300,
              stat: 'Average',
            },
          },
        ],
      },
    },
  };
}
