/**
 * A local EC2 for the one call rejuv makes of it: DescribeTags, which the host sync reads EC2 instances'
 * tags with (SSM's ListTagsForResource takes hybrid `mi-` nodes only). The real `@aws-sdk/client-ec2` talks
 * to it over EC2's Query protocol. The instances are the local SSM's `i-` hosts, so a tag set there is the
 * tag EC2 reports, as in AWS, where SSM's tag filters on an EC2 instance read its EC2 tags.
 *
 * Emulated: the filters key, resource-id, resource-type, value and tag:<key>; MaxResults 5-1000 and
 * NextToken; InvalidParameterValue for a filter EC2 does not know or a MaxResults out of range;
 * UnauthorizedOperation from local IAM. Not emulated: resources other than instances, DryRun.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import type { Authorizer } from './iam/local-iam.js';
import { ec2Requests } from './iam/service-requests.js';
import { QueryServiceError } from './query-protocol/query-errors.js';
import {
  parseQueryInput,
  queryInteger,
  type QueryParamTree,
  type QueryRequest,
} from './query-protocol/query-params.js';
import { authorizeWith, startQueryServer, type RunningQueryServer } from './query-protocol/query-server.js';
import { xmlElement, type XmlFragment } from './query-protocol/query-xml.js';

const EC2_XML_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const EC2_VERSION = '2016-11-15';
/** The API reference: "This value can be between 5 and 1000." */
const MIN_RESULTS = 5;
const MAX_RESULTS = 1000;

export interface LocalEc2Instance {
  readonly instanceId: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface LocalEc2Options {
  /** The EC2 instances there are now, with their tags (read at every request). */
  readonly instances: () => readonly LocalEc2Instance[];
  /** Local IAM: every request is authorized as its signer's policies allow. @default anyone may do anything */
  readonly authorizer?: Authorizer;
}

export type RunningLocalEc2 = Pick<RunningQueryServer, 'endpoint' | 'failNext' | 'requestCount' | 'stop'>;

/** EC2 lists are flattened: `Name.N` (N from 1), with no `member` level. */
function ec2List<T extends z.ZodType>(item: T) {
  return z.preprocess((value: unknown) => {
    if (value === undefined || typeof value === 'string') return value;
    const node = value as { readonly [segment: string]: QueryParamTree };
    const items: unknown[] = [];
    for (let i = 1; i <= Object.keys(node).length; i++) items.push(node[String(i)]);
    return items;
  }, z.array(item));
}

const DescribeTagsInput = z.object({
  Filter: ec2List(z.object({ Name: z.string(), Value: ec2List(z.string()).optional() })).optional(),
  MaxResults: queryInteger.optional(),
  NextToken: z.string().optional(),
  DryRun: z.string().optional(),
});

const FILTER_NAMES: ReadonlySet<string> = new Set(['key', 'resource-id', 'resource-type', 'value']);

interface TagDescription {
  readonly resourceId: string;
  readonly key: string;
  readonly value: string;
}

function matches(tag: TagDescription, filter: { Name: string; Value?: string[] | undefined }): boolean {
  const values = filter.Value ?? [];
  if (filter.Name === 'key') return values.includes(tag.key);
  if (filter.Name === 'value') return values.includes(tag.value);
  if (filter.Name === 'resource-id') return values.includes(tag.resourceId);
  if (filter.Name === 'resource-type') return values.includes('instance');
  // tag:<key> selects resources, not tags: judged per instance before.
  return true;
}

export async function startLocalEc2Endpoint(options: LocalEc2Options): Promise<RunningLocalEc2> {
  const describeTags = (params: QueryRequest['params']): XmlFragment[] => {
    const input = parseQueryInput(DescribeTagsInput, params, 'InvalidParameterValue');
    const filters = input.Filter ?? [];
    for (const filter of filters)
      if (!FILTER_NAMES.has(filter.Name) && !/^tag:.+/.test(filter.Name))
        throw new QueryServiceError('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
    const maxResults = input.MaxResults ?? MAX_RESULTS;
    if (input.MaxResults !== undefined && (maxResults < MIN_RESULTS || maxResults > MAX_RESULTS))
      throw new QueryServiceError(
        'InvalidParameterValue',
        `Value (${maxResults}) for parameter maxResults is invalid. Expecting a value between ${MIN_RESULTS} and ${MAX_RESULTS}.`,
      );
    const tagFilters = filters.filter((f) => f.Name.startsWith('tag:'));
    const tags = options
      .instances()
      .filter((instance) =>
        tagFilters.every((f) => (f.Value ?? []).includes(instance.tags[f.Name.slice(4)] ?? '\u0000')),
      )
      .flatMap((instance) =>
        Object.entries(instance.tags)
          .map(([key, value]) => ({ resourceId: instance.instanceId, key, value }))
          .sort((a, b) => a.key.localeCompare(b.key)),
      )
      .filter((tag) => filters.every((f) => matches(tag, f)));
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
    if (!Number.isInteger(start) || start < 0 || start > tags.length)
      throw new QueryServiceError('InvalidParameterValue', 'The token is invalid');
    const page = tags.slice(start, start + maxResults);
    const next = start + page.length < tags.length ? String(start + page.length) : undefined;
    return [
      ...xmlElement(
        'tagSet',
        page.flatMap((tag) =>
          xmlElement('item', [
            ...xmlElement('resourceId', tag.resourceId),
            ...xmlElement('resourceType', 'instance'),
            ...xmlElement('key', tag.key),
            ...xmlElement('value', tag.value),
          ]),
        ),
      ),
      ...xmlElement('nextToken', next),
    ];
  };
  return startQueryServer({
    version: EC2_VERSION,
    xmlNamespace: EC2_XML_NAMESPACE,
    envelope: 'ec2',
    httpStatusOf: { UnauthorizedOperation: 403 },
    actions: { DescribeTags: describeTags },
    ...(options.authorizer === undefined
      ? {}
      : { authorize: authorizeWith(options.authorizer, 'UnauthorizedOperation', ec2Requests) }),
  });
}

/** A real EC2 client pointed at a local endpoint, with the dummy credentials it needs to sign. */
export function localEc2Client(endpoint: string, options: { readonly maxAttempts?: number } = {}): EC2Client {
  return new EC2Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}
