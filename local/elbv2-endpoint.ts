/**
 * A local Elastic Load Balancing v2 for tests, the demo and local mode: the real
 * `@aws-sdk/client-elastic-load-balancing-v2` talks to it over the Query protocol. It keeps target groups,
 * their registrations and tags, and moves targets through the states a load balancer reports: a new
 * registration is `initial` until its first health checks pass (`healthyAfterMs`), then `healthy`; a
 * deregistered one is `draining` for the group's deregistration delay, then gone (`unused` with reason
 * `Target.NotRegistered` when asked about by id). Time comes from a Clock, so tests move it instead of
 * sleeping.
 *
 * Emulated: DescribeTargetHealth, RegisterTargets, DeregisterTargets, AddTags, RemoveTags, DescribeTags on
 * target groups, with TargetGroupNotFound, InvalidTarget, TooManyTags, DuplicateTagKeys and ValidationError.
 * Not emulated: load balancers and listeners, health checks against real ports (every target turns
 * healthy), `unhealthy`/`unused` for other reasons, availability zones, anomaly detection, and API rate
 * limits (inject throttling with `failNext(action, 'Throttling')`).
 */
import { createHash } from 'node:crypto';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { z } from 'zod';
import { systemClock, type Clock } from '../shared/domain/clock.js';
import { QueryServiceError } from './query-protocol/query-errors.js';
import { parseQueryInput, queryInteger, queryList } from './query-protocol/query-params.js';
import { authorizeWith, startQueryServer } from './query-protocol/query-server.js';
import type { Authorizer } from './iam/local-iam.js';
import { elbv2Requests } from './iam/service-requests.js';
import { xmlElement, xmlList, type XmlFragment } from './query-protocol/query-xml.js';

/** A target registered from the start: an id on the group's port, or an id with a port override. */
export type InitialTarget = string | { readonly id: string; readonly port: number };

export interface LocalElbv2Options {
  /** Target groups by name, each with the targets registered (and healthy) when the endpoint starts. */
  readonly targetGroups: Readonly<Record<string, readonly InitialTarget[]>>;
  /** How long a deregistered target stays `draining`. @default 300_000 (the AWS default of 300 s) */
  readonly deregistrationDelayMs?: number;
  /** How long a newly registered target stays `initial` before it is `healthy`. @default 100 */
  readonly healthyAfterMs?: number;
  /** Every group's port, used for targets registered without one. @default 80 */
  readonly port?: number;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Local IAM: every request is authorized as its signer's policies allow. @default anyone may do anything */
  readonly authorizer?: Authorizer;
}

export type EmulatedTargetState = 'initial' | 'healthy' | 'draining';

export interface TargetRegistration {
  readonly id: string;
  readonly port: number;
  readonly state: EmulatedTargetState;
}

export type LocalElbv2Action =
  | 'DescribeTargetHealth'
  | 'RegisterTargets'
  | 'DeregisterTargets'
  | 'AddTags'
  | 'RemoveTags'
  | 'DescribeTags';

export interface RunningLocalElbv2 {
  /** For the SDK client's `endpoint`. */
  readonly endpoint: string;
  /** The ARN of a configured group; throws for a name that was not configured. */
  targetGroupArn(name: string): string;
  /** The group's live registrations (draining ones included), sorted by id and port. */
  health(targetGroupArn: string): readonly TargetRegistration[];
  /** The group's tags. */
  tags(targetGroupArn: string): Readonly<Record<string, string>>;
  /** The next `count` requests for `action` fail with `code`, e.g. `Throttling` (sent as 400, as ELBv2 does). */
  failNext(action: LocalElbv2Action, code: string, count?: number): void;
  requestCount(action: LocalElbv2Action): number;
  stop(): Promise<void>;
}

const ELBV2_XML_NAMESPACE = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const MAX_TAGS_PER_RESOURCE = 50;
const MAX_TAGGED_RESOURCES_PER_CALL = 20;

interface Registration {
  readonly id: string;
  readonly port: number;
  readonly registeredAtMs: number;
  readonly deregisteredAtMs?: number;
}

interface TargetGroup {
  readonly arn: string;
  readonly port: number;
  /** By `id:port`: a target may be registered once per port. */
  readonly registrations: Map<string, Registration>;
  readonly tags: Map<string, string>;
}

const nonEmpty = (list: readonly unknown[]): boolean => list.length > 0;

const PortSchema = queryInteger.pipe(z.number().int().min(1).max(65535));

const TargetDescriptionParams = z
  .object({
    Id: z.string(),
    Port: PortSchema.optional(),
    AvailabilityZone: z.string().optional(),
    QuicServerId: z.string().optional(),
  })
  .strict();

const DescribeTargetHealthParams = z
  .object({
    TargetGroupArn: z.string(),
    Targets: queryList(TargetDescriptionParams).optional(),
    Include: queryList(z.string()).optional(),
  })
  .strict();

const ChangeTargetsParams = z
  .object({
    TargetGroupArn: z.string(),
    Targets: queryList(TargetDescriptionParams).refine(nonEmpty, 'must not be empty'),
  })
  .strict();

const ResourceArnsSchema = queryList(z.string()).refine(
  (arns) => arns.length >= 1 && arns.length <= MAX_TAGGED_RESOURCES_PER_CALL,
  `1 to ${MAX_TAGGED_RESOURCES_PER_CALL} resource ARNs`,
);

/** ELB's tag alphabet: letters, digits and spaces in any script, and _ . : / = + - @. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

const TagKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(TAG_TEXT, 'tag key: letters, digits, spaces and _ . : / = + - @')
  .refine((key) => !key.startsWith('aws:'), 'tag keys starting with aws: are reserved');

const AddTagsParams = z
  .object({
    ResourceArns: ResourceArnsSchema,
    Tags: queryList(
      z
        .object({
          Key: TagKeySchema,
          Value: z
            .string()
            .max(256)
            .regex(TAG_TEXT, 'tag value: letters, digits, spaces and _ . : / = + - @')
            .optional(),
        })
        .strict(),
    ).refine(nonEmpty, 'must not be empty'),
  })
  .strict();

const RemoveTagsParams = z
  .object({
    ResourceArns: ResourceArnsSchema,
    TagKeys: queryList(z.string()).refine(nonEmpty, 'must not be empty'),
  })
  .strict();

const DescribeTagsParams = z.object({ ResourceArns: ResourceArnsSchema }).strict();

export async function startLocalElbv2Endpoint(options: LocalElbv2Options): Promise<RunningLocalElbv2> {
  const clock = options.clock ?? systemClock;
  const deregistrationDelayMs = options.deregistrationDelayMs ?? 300_000;
  const healthyAfterMs = options.healthyAfterMs ?? 100;
  const defaultPort = options.port ?? 80;
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';

  const groupsByName = new Map<string, TargetGroup>();
  const groupsByArn = new Map<string, TargetGroup>();
  for (const [name, initialTargets] of Object.entries(options.targetGroups)) {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(name)) {
      throw new Error(
        `target group name ${JSON.stringify(name)}: 1-32 of A-Z a-z 0-9 -, not starting or ending with -`,
      );
    }
    // A stable ARN per name, shaped like AWS's (a 16-hex-digit suffix), so configuration can be written ahead.
    const suffix = createHash('sha256').update(name).digest('hex').slice(0, 16);
    const group: TargetGroup = {
      arn: `arn:aws:elasticloadbalancing:${region}:${accountId}:targetgroup/${name}/${suffix}`,
      port: defaultPort,
      registrations: new Map(),
      tags: new Map(),
    };
    // Registered long enough ago to be healthy now.
    const registeredAtMs = clock.nowMs() - healthyAfterMs;
    for (const target of initialTargets) {
      const { id, port } = typeof target === 'string' ? { id: target, port: defaultPort } : target;
      if (!isValidTargetId(id))
        throw new Error(`initial target ${JSON.stringify(id)} is not an instance id or IPv4 address`);
      group.registrations.set(registrationKey(id, port), { id, port, registeredAtMs });
    }
    groupsByName.set(name, group);
    groupsByArn.set(group.arn, group);
  }

  /** The registration's state now, or undefined once its deregistration delay has run out. */
  const stateOf = (registration: Registration, nowMs: number): EmulatedTargetState | undefined => {
    if (registration.deregisteredAtMs !== undefined) {
      return nowMs - registration.deregisteredAtMs < deregistrationDelayMs ? 'draining' : undefined;
    }
    return nowMs - registration.registeredAtMs < healthyAfterMs ? 'initial' : 'healthy';
  };

  /** The group, with registrations whose draining finished removed. */
  const liveGroup = (arn: string): TargetGroup => {
    const group = groupsByArn.get(arn);
    if (group === undefined)
      throw new QueryServiceError('TargetGroupNotFound', 'One or more target groups not found');
    const nowMs = clock.nowMs();
    for (const [key, registration] of group.registrations) {
      if (stateOf(registration, nowMs) === undefined) group.registrations.delete(key);
    }
    return group;
  };

  const targetsOf = (group: TargetGroup, targets: readonly z.output<typeof TargetDescriptionParams>[]) =>
    targets.map((target) => {
      if (!isValidTargetId(target.Id)) throw invalidTarget(target.Id);
      return { id: target.Id, port: target.Port ?? group.port };
    });

  const describeTargetHealth = (input: z.output<typeof DescribeTargetHealthParams>): XmlFragment[] => {
    const group = liveGroup(input.TargetGroupArn);
    const nowMs = clock.nowMs();
    const described =
      input.Targets === undefined
        ? sortedRegistrations(group).map((r) => ({ id: r.id, port: r.port, state: stateOf(r, nowMs) }))
        : targetsOf(group, input.Targets).map(({ id, port }) => {
            const registration = group.registrations.get(registrationKey(id, port));
            return { id, port, state: registration === undefined ? undefined : stateOf(registration, nowMs) };
          });
    return xmlList('TargetHealthDescriptions', described, ({ id, port, state }) => [
      ...xmlElement('Target', [...xmlElement('Id', id), ...xmlElement('Port', port)]),
      ...xmlElement('HealthCheckPort', String(port)),
      ...xmlElement('TargetHealth', targetHealthXml(state)),
    ]);
  };

  const registerTargets = (input: z.output<typeof ChangeTargetsParams>): XmlFragment[] => {
    const group = liveGroup(input.TargetGroupArn);
    const targets = targetsOf(group, input.Targets);
    const nowMs = clock.nowMs();
    for (const { id, port } of targets) {
      const key = registrationKey(id, port);
      const existing = group.registrations.get(key);
      // Registering a registered target changes nothing; registering a draining one starts it afresh.
      if (existing !== undefined && existing.deregisteredAtMs === undefined) continue;
      group.registrations.set(key, { id, port, registeredAtMs: nowMs });
    }
    return [];
  };

  const deregisterTargets = (input: z.output<typeof ChangeTargetsParams>): XmlFragment[] => {
    const group = liveGroup(input.TargetGroupArn);
    const targets = targetsOf(group, input.Targets);
    // All or nothing: a target that is not registered refuses the whole request before anything changes.
    for (const { id, port } of targets) {
      if (!group.registrations.has(registrationKey(id, port))) throw invalidTarget(id);
    }
    const nowMs = clock.nowMs();
    for (const { id, port } of targets) {
      const key = registrationKey(id, port);
      const registration = group.registrations.get(key);
      if (registration === undefined || registration.deregisteredAtMs !== undefined) continue;
      group.registrations.set(key, { ...registration, deregisteredAtMs: nowMs });
    }
    return [];
  };

  const addTags = (input: z.output<typeof AddTagsParams>): XmlFragment[] => {
    const groups = input.ResourceArns.map(liveGroup);
    const keys = input.Tags.map((tag) => tag.Key);
    if (new Set(keys).size !== keys.length) {
      throw new QueryServiceError('DuplicateTagKeys', 'A tag key was specified more than once');
    }
    for (const group of groups) {
      const after = new Set([...group.tags.keys(), ...keys]);
      if (after.size > MAX_TAGS_PER_RESOURCE) {
        throw new QueryServiceError(
          'TooManyTags',
          `You've reached the limit on the number of tags for this resource (${MAX_TAGS_PER_RESOURCE})`,
        );
      }
    }
    for (const group of groups) for (const tag of input.Tags) group.tags.set(tag.Key, tag.Value ?? '');
    return [];
  };

  const removeTags = (input: z.output<typeof RemoveTagsParams>): XmlFragment[] => {
    const groups = input.ResourceArns.map(liveGroup);
    for (const group of groups) for (const key of input.TagKeys) group.tags.delete(key);
    return [];
  };

  const describeTags = (input: z.output<typeof DescribeTagsParams>): XmlFragment[] => {
    const groups = input.ResourceArns.map(liveGroup);
    return xmlList('TagDescriptions', groups, (group) => [
      ...xmlElement('ResourceArn', group.arn),
      ...xmlList('Tags', [...group.tags], ([key, value]) => [
        ...xmlElement('Key', key),
        ...xmlElement('Value', value),
      ]),
    ]);
  };

  const server = await startQueryServer({
    version: '2015-12-01',
    xmlNamespace: ELBV2_XML_NAMESPACE,
    ...(options.authorizer === undefined
      ? {}
      : { authorize: authorizeWith(options.authorizer, 'AccessDenied', elbv2Requests) }),
    actions: {
      DescribeTargetHealth: (params) =>
        describeTargetHealth(parseQueryInput(DescribeTargetHealthParams, params, 'ValidationError')),
      RegisterTargets: (params) =>
        registerTargets(parseQueryInput(ChangeTargetsParams, params, 'ValidationError')),
      DeregisterTargets: (params) =>
        deregisterTargets(parseQueryInput(ChangeTargetsParams, params, 'ValidationError')),
      AddTags: (params) => addTags(parseQueryInput(AddTagsParams, params, 'ValidationError')),
      RemoveTags: (params) => removeTags(parseQueryInput(RemoveTagsParams, params, 'ValidationError')),
      DescribeTags: (params) => describeTags(parseQueryInput(DescribeTagsParams, params, 'ValidationError')),
    },
  });

  const configuredGroup = (arn: string): TargetGroup => {
    if (!groupsByArn.has(arn)) throw new Error(`no target group ${arn} on this endpoint`);
    return liveGroup(arn);
  };

  return {
    endpoint: server.endpoint,
    targetGroupArn: (name) => {
      const group = groupsByName.get(name);
      if (group === undefined) throw new Error(`no target group named ${name} on this endpoint`);
      return group.arn;
    },
    health: (arn) => {
      const group = configuredGroup(arn);
      const nowMs = clock.nowMs();
      return sortedRegistrations(group).flatMap((r) => {
        const state = stateOf(r, nowMs);
        return state === undefined ? [] : [{ id: r.id, port: r.port, state }];
      });
    },
    tags: (arn) => Object.freeze(Object.fromEntries(configuredGroup(arn).tags)),
    failNext: (action, code, count) => server.failNext(action, code, count),
    requestCount: (action) => server.requestCount(action),
    stop: () => server.stop(),
  };
}

/** A real ELBv2 client pointed at a local endpoint, with the dummy credentials it needs to sign. */
export function localElbv2Client(
  endpoint: string,
  options: { readonly maxAttempts?: number } = {},
): ElasticLoadBalancingV2Client {
  return new ElasticLoadBalancingV2Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}

function targetHealthXml(state: EmulatedTargetState | undefined): XmlFragment[] {
  switch (state) {
    case 'healthy':
      return xmlElement('State', 'healthy');
    case 'initial':
      return [
        ...xmlElement('State', 'initial'),
        ...xmlElement('Reason', 'Elb.RegistrationInProgress'),
        ...xmlElement('Description', 'Target registration is in progress'),
      ];
    case 'draining':
      return [
        ...xmlElement('State', 'draining'),
        ...xmlElement('Reason', 'Target.DeregistrationInProgress'),
        ...xmlElement('Description', 'Target deregistration is in progress'),
      ];
    case undefined:
      return [
        ...xmlElement('State', 'unused'),
        ...xmlElement('Reason', 'Target.NotRegistered'),
        ...xmlElement('Description', 'Target is not registered to the target group'),
      ];
  }
}

function sortedRegistrations(group: TargetGroup): Registration[] {
  return [...group.registrations.values()].sort((a, b) =>
    a.id === b.id ? a.port - b.port : a.id < b.id ? -1 : 1,
  );
}

function registrationKey(id: string, port: number): string {
  return `${id}:${port}`;
}

/** Stands in for "exists in the group's VPC": EC2 instance ids and IPv4 addresses; anything else is unknown. */
function isValidTargetId(id: string): boolean {
  return (
    /^i-[0-9a-f]{8,17}$/.test(id) || /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(id)
  );
}

function invalidTarget(id: string): QueryServiceError {
  return new QueryServiceError(
    'InvalidTarget',
    `The specified target ${id} does not exist, is not in the same VPC as the target group, or has an unsupported instance type`,
  );
}
