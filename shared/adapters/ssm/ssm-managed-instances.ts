import {
  DescribeInstanceInformationCommand,
  ListTagsForResourceCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { ManagedInstanceView } from '../../domain/host-sync-plan.js';
import { InstanceIdSchema } from '../../domain/identifiers.js';
import type { ManagedInstances } from '../../ports/managed-instances.js';
import { toSsmError } from './errors.js';

/**
 * SSM's inventory of managed instances. DescribeInstanceInformation filters by tag key but does not return
 * tags, so each instance's tags are read with ListTagsForResource (ResourceType ManagedInstance).
 *
 * IAM: ssm:DescribeInstanceInformation (on `*`), ssm:ListTagsForResource (on the managed instances).
 */
export class SsmManagedInstances implements ManagedInstances {
  constructor(private readonly client: SSMClient) {}

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
    const views: ManagedInstanceView[] = [];
    for (const instance of found) views.push({ ...instance, tags: await this.tagsOf(instance.instanceId) });
    return views;
  }

  private async tagsOf(instanceId: string): Promise<Record<string, string>> {
    const out = await this.client
      .send(new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: instanceId }))
      .catch((error: unknown) => {
        throw toSsmError(error, { operation: 'ListTagsForResource', instanceId });
      });
    return Object.fromEntries(
      (out.TagList ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])),
    );
  }
}
