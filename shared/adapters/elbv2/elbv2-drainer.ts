import {
  AddTagsCommand,
  DeregisterTargetsCommand,
  DescribeTagsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  RemoveTagsCommand,
  type ElasticLoadBalancingV2Client,
  type TargetDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { z } from 'zod';
import type { Host } from '../../domain/host.js';
import type { Lease } from '../../domain/lease.js';
import { parseWith } from '../../domain/validation.js';
import type { Drainer } from '../../ports/drainer.js';
import {
  decodePorts,
  drainRecordTagKey,
  encodePorts,
  TargetIdSchema,
  type RegisteredPort,
} from './elbv2-drain-record.js';
import { toElbv2Error } from './elbv2-errors.js';

/** How a host is known to its target groups. */
export type TargetIdOf = (host: Host) => string;

/**
 * The default: instance-type target groups know a host by its EC2 instance id. Hosts registered with SSM
 * as hybrid instances (`mi-…`) are not EC2 instances; put them in ip-type groups and pass a mapping such
 * as `(host) => host.tags['ip'] ?? ''`.
 */
export const instanceIdAsTargetId: TargetIdOf = (host) => host.instanceId;

export const TargetGroupArnSchema = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/,
    'target group ARN: arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>',
  );

const TargetGroupArnsSchema = z
  .array(TargetGroupArnSchema)
  .min(1, 'at least one target group')
  .refine((arns) => new Set(arns).size === arns.length, 'target groups must not repeat');

interface Registration {
  readonly port: RegisteredPort;
  /** The load balancer's state for it; `unknown` if it named none. */
  readonly state: string;
}

/**
 * Takes a host out of Elastic Load Balancing v2 target groups and puts it back: `drain` deregisters it
 * wherever it is registered among `targetGroupArns`, so the load balancer stops sending new requests and
 * lets in-flight ones finish for the group's deregistration delay (`draining`); `isDrained` is true once no
 * group reports the host in any state but `unused`; `undrain` registers it back on the ports it had,
 * only into the groups it was taken out of.
 *
 * Which groups those were is recorded as a tag on each group before deregistering (see
 * elbv2-drain-record.ts), because after deregistration ELB keeps no trace of the target. Registering into
 * every configured group instead would add a host to groups it never served, and would do so even when
 * compensation undrains a host that was never drained.
 *
 * Each group is read with DescribeTargetHealth without a Targets filter and matched by id here. AWS does
 * not document how a filter entry without a port matches a target registered on a port override (or on
 * several ports); the full listing is exact whatever the answer, at the cost of a larger response.
 *
 * ELBv2 has no conditional writes, so these calls are not fenced by the host lock; CompositeDrainer proves
 * the lock with a fenced write just before calling this drainer.
 *
 * IAM: elasticloadbalancing:DescribeTargetHealth, DescribeTags (both on `*`), RegisterTargets,
 * DeregisterTargets, AddTags, RemoveTags (on the target groups).
 */
export class Elbv2Drainer implements Drainer {
  private readonly targetGroupArns: readonly string[];

  /**
   * @param targetGroupArns every group a host of this deployment may be registered in
   * @param targetIdOf how a host is known to the groups; @default instanceIdAsTargetId
   * @throws ValidationError when an ARN is malformed or repeated, or none is given
   */
  constructor(
    private readonly client: ElasticLoadBalancingV2Client,
    targetGroupArns: readonly string[],
    private readonly targetIdOf: TargetIdOf = instanceIdAsTargetId,
  ) {
    this.targetGroupArns = parseWith(TargetGroupArnsSchema, 'target group ARNs', targetGroupArns);
  }

  /** Records, then deregisters, every registration of the host that is not already draining. Idempotent. */
  async drain(host: Host, _executionId: string, _lock: Lease): Promise<void> {
    const targetId = this.targetId(host);
    const recorded = await this.drainRecords(targetId);
    for (const arn of this.targetGroupArns) {
      const serving = (await this.registrations(arn, targetId)).filter((r) => r.state !== 'draining');
      if (serving.length === 0) continue;
      // The record goes first: a crash between the two calls leaves a record of a host still registered
      // (undrain re-registers it, a no-op), never a deregistered host that nothing will put back.
      const ports = [...(recorded.get(arn) ?? []), ...serving.map((r) => r.port)];
      await this.call('AddTags', arn, targetId, () =>
        this.client.send(
          new AddTagsCommand({
            ResourceArns: [arn],
            Tags: [{ Key: drainRecordTagKey(targetId), Value: encodePorts(ports) }],
          }),
        ),
      );
      await this.call('DeregisterTargets', arn, targetId, () =>
        this.client.send(
          new DeregisterTargetsCommand({
            TargetGroupArn: arn,
            Targets: serving.map((r) => targetDescription(targetId, r.port)),
          }),
        ),
      );
    }
  }

  /** True when no group reports the host in any state but `unused`: deregistration has finished. */
  async isDrained(host: Host): Promise<boolean> {
    const targetId = this.targetId(host);
    for (const arn of this.targetGroupArns) {
      const registrations = await this.registrations(arn, targetId);
      if (registrations.some((r) => r.state !== 'unused')) return false;
    }
    return true;
  }

  /** Registers the host back where the drain records say it was, then removes the records. Idempotent. */
  async undrain(host: Host, _executionId: string, _lock: Lease): Promise<void> {
    const targetId = this.targetId(host);
    const recorded = await this.drainRecords(targetId);
    for (const arn of this.targetGroupArns) {
      const ports = recorded.get(arn);
      if (ports === undefined) continue;
      // Register first, then forget: a crash in between leaves a record, and the retry registers again,
      // which ELB treats as a no-op for a target already registered.
      await this.call('RegisterTargets', arn, targetId, () =>
        this.client.send(
          new RegisterTargetsCommand({
            TargetGroupArn: arn,
            Targets: ports.map((port) => targetDescription(targetId, port)),
          }),
        ),
      );
      await this.call('RemoveTags', arn, targetId, () =>
        this.client.send(
          new RemoveTagsCommand({ ResourceArns: [arn], TagKeys: [drainRecordTagKey(targetId)] }),
        ),
      );
    }
  }

  private targetId(host: Host): string {
    return parseWith(TargetIdSchema, `load balancer target id of host ${host.hostId}`, this.targetIdOf(host));
  }

  /** The host's registrations in one group, from the group's full listing. */
  private async registrations(arn: string, targetId: string): Promise<Registration[]> {
    const { TargetHealthDescriptions = [] } = await this.call('DescribeTargetHealth', arn, targetId, () =>
      this.client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
    );
    return TargetHealthDescriptions.filter((d) => d.Target?.Id === targetId).map((d) => ({
      port: d.Target?.Port ?? 'default',
      state: d.TargetHealth?.State ?? 'unknown',
    }));
  }

  /**
   * The drain records for this host, by target group. One DescribeTags per group (it could take 20), so a
   * missing group is named exactly in TargetGroupNotFoundError; deployments configure a handful of groups.
   */
  private async drainRecords(targetId: string): Promise<Map<string, RegisteredPort[]>> {
    const key = drainRecordTagKey(targetId);
    const records = new Map<string, RegisteredPort[]>();
    for (const arn of this.targetGroupArns) {
      const { TagDescriptions = [] } = await this.call('DescribeTags', arn, targetId, () =>
        this.client.send(new DescribeTagsCommand({ ResourceArns: [arn] })),
      );
      const value = TagDescriptions.find((d) => d.ResourceArn === arn)?.Tags?.find(
        (tag) => tag.Key === key,
      )?.Value;
      if (value !== undefined) records.set(arn, decodePorts(arn, targetId, value));
    }
    return records;
  }

  private async call<T>(operation: string, targetGroupArn: string, targetId: string, send: () => Promise<T>) {
    try {
      return await send();
    } catch (error) {
      throw toElbv2Error(error, { operation, targetGroupArn, targetId });
    }
  }
}

function targetDescription(targetId: string, port: RegisteredPort): TargetDescription {
  return port === 'default' ? { Id: targetId } : { Id: targetId, Port: port };
}
