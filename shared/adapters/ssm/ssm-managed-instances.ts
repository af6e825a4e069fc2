import { DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  ListTagsForResourceCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { ManagedInstanceView } from '../../domain/host-sync-plan.js';
import { InstanceIdSchema } from '../../domain/identifiers.js';
import type { ManagedInstances } from '../../ports/managed-instances.js';
import { RejuvError } from '../../domain/errors.js';
import { toSsmError, type SsmCallContext } from './errors.js';

/** EC2 takes at most this many values in one filter (assumed from DescribeInstances' documented 200). */
const EC2_FILTER_VALUES = 200;

/**
 * SSM's inventory of managed instances. DescribeInstanceInformation filters by tag key but does not return
 * tags, so they are read where each kind of instance keeps them: a hybrid node's (`mi-`) with SSM's
 * ListTagsForResource (ResourceType ManagedInstance, which takes `mi-` ids only), an EC2 instance's (`i-`)
 * with EC2's DescribeTags, up to 200 instances a call. An instance whose tags cannot be read is listed with
 * the reason (`unreadable`), so one host's failure is that host's, not the fleet's.
 *
 * IAM: ssm:DescribeInstanceInformation (on `*`), ssm:ListTagsForResource (on the managed instances),
 * ec2:DescribeTags (on `*`).
 */
export class SsmManagedInstances implements ManagedInstances {
  constructor(
    private readonly client: SSMClient,
    private readonly ec2: EC2Client,
  ) {}

  async listTagged(tagKey: string): Promise<ManagedInstanceView[]> {
    const found: { instanceId: string; pingStatus: string }[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client
        .send(
          new DescribeInstanceInformationCommand({
            Filters: [{ Key: 'tag-key', Values: [tagKey] }],
            MaxResults: 50,
            NextToken: nextToken,
          }),
        )
        .catch((error: unknown) => {
          throw toSsmError(error, { operation: 'DescribeInstanceInformation' });
        });
      for (const info of page.InstanceInformationList ?? []) {
        // An id SSM should never report is skipped rather than trusted into ARNs and keys.
        if (info.InstanceId === undefined || !InstanceIdSchema.safeParse(info.InstanceId).success) continue;
        found.push({ instanceId: info.InstanceId, pingStatus: info.PingStatus ?? 'Unknown' });
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    const ec2Tags = await this.ec2TagsOf(
      found.map((i) => i.instanceId).filter((id) => !id.startsWith('mi-')),
    );
    const views: ManagedInstanceView[] = [];
    for (const instance of found) {
      const tags = instance.instanceId.startsWith('mi-')
        ? await this.hybridTagsOf(instance.instanceId)
        : (ec2Tags.get(instance.instanceId) ?? {});
      views.push(
        tags instanceof Error ? { ...instance, tags: {}, unreadable: tags.message } : { ...instance, tags },
      );
    }
    return views;
  }

  private async hybridTagsOf(instanceId: string): Promise<Record<string, string> | Error> {
    try {
      const out = await this.client.send(
        new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: instanceId }),
      );
      return Object.fromEntries(
        (out.TagList ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])),
      );
    } catch (error) {
      return serviceFailure(error, { operation: 'ListTagsForResource', instanceId });
    }
  }

  /** Each EC2 instance's tags (none when it has none); a failed batch gives its instances the error. */
  private async ec2TagsOf(
    instanceIds: readonly string[],
  ): Promise<Map<string, Record<string, string> | Error>> {
    const tags = new Map<string, Record<string, string> | Error>();
    for (let at = 0; at < instanceIds.length; at += EC2_FILTER_VALUES) {
      const batch = instanceIds.slice(at, at + EC2_FILTER_VALUES);
      const found = new Map<string, Record<string, string>>(batch.map((id) => [id, {}]));
      try {
        let nextToken: string | undefined;
        do {
          const page = await this.ec2.send(
            new DescribeTagsCommand({
              Filters: [
                { Name: 'resource-type', Values: ['instance'] },
                { Name: 'resource-id', Values: [...batch] },
              ],
              MaxResults: 1000,
              NextToken: nextToken,
            }),
          );
          for (const tag of page.Tags ?? []) {
            const own = tag.ResourceId === undefined ? undefined : found.get(tag.ResourceId);
            if (own !== undefined && tag.Key !== undefined) own[tag.Key] = tag.Value ?? '';
          }
          nextToken = page.NextToken;
        } while (nextToken !== undefined);
        for (const [id, own] of found) tags.set(id, own);
      } catch (error) {
        const failure = serviceFailure(error, { operation: 'ec2:DescribeTags' });
        for (const id of batch) tags.set(id, failure);
      }
    }
    return tags;
  }
}

/** A refused or failed call, as one instance's failure; anything else (a bug) is thrown as it is. */
function serviceFailure(error: unknown, context: SsmCallContext): RejuvError {
  const failure = toSsmError(error, context);
  if (failure instanceof RejuvError) return failure;
  throw failure;
}
