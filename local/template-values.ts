/**
 * CloudFormation values of the synthesized template, resolved to what local mode created: each resource's
 * `Ref` and `Fn::GetAtt … Arn` as the local endpoints know it. The intrinsic functions CDK writes into
 * environments and policies are few (Ref, Fn::GetAtt, Fn::Join, pseudo parameters); anything else is
 * refused rather than guessed.
 */
import {
  LOCAL_ACCOUNT,
  LOCAL_PARTITION,
  LOCAL_REGION,
  type Template,
} from './step-functions/synthesized-workflow.js';

export interface LocalResourceName {
  /** What `Ref` returns: a table's name, a topic's ARN, a function's name… */
  readonly ref: string;
  /** What `Fn::GetAtt [id, Arn]` returns. */
  readonly arn: string;
}

const local = (service: string, resource: string, regional = true): string =>
  `arn:${LOCAL_PARTITION}:${service}:${regional ? LOCAL_REGION : ''}:${LOCAL_ACCOUNT}:${resource}`;

/**
 * Local names of every resource: `known` for those local mode created under names of its own (tables,
 * documents, topic, state machine); the rest are named after their logical id, with ARNs of their type.
 */
export function localResourceNames(
  template: Template,
  known: Readonly<Record<string, LocalResourceName>>,
): Map<string, LocalResourceName> {
  const names = new Map<string, LocalResourceName>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    names.set(id, known[id] ?? defaultName(id, resource.Type));
  }
  return names;
}

function defaultName(id: string, type: string): LocalResourceName {
  switch (type) {
    case 'AWS::Lambda::Function':
      return { ref: id, arn: local('lambda', `function:${id}`) };
    case 'AWS::IAM::Role':
      return { ref: id, arn: local('iam', `role/${id}`, false) };
    case 'AWS::Logs::LogGroup':
      return { ref: id, arn: local('logs', `log-group:${id}:*`) };
    case 'AWS::SQS::Queue':
      return { ref: `http://sqs.local/${LOCAL_ACCOUNT}/${id}`, arn: local('sqs', id) };
    case 'AWS::Events::Rule':
      return { ref: id, arn: local('events', `rule/${id}`) };
    case 'AWS::SNS::Topic':
      return { ref: local('sns', id), arn: local('sns', id) };
    case 'AWS::KMS::Key':
      return { ref: id, arn: local('kms', `key/${id}`) };
    case 'AWS::S3::Bucket': {
      // Bucket names are lower case; ARNs of S3 resources name neither region nor account.
      const bucket = id.toLowerCase();
      return { ref: bucket, arn: `arn:${LOCAL_PARTITION}:s3:::${bucket}` };
    }
    default:
      return { ref: id, arn: local('cloudformation', `local-resource/${id}`) };
  }
}

/** Resolves every intrinsic function in `value` (objects and arrays included). */
export function resolveTemplateValue(value: unknown, names: ReadonlyMap<string, LocalResourceName>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveTemplateValue(v, names));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [fn, args] = entries[0] ?? [];
  if (entries.length === 1 && (fn === 'Ref' || fn?.startsWith('Fn::') === true))
    return resolveIntrinsic(fn ?? '', args, names);
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveTemplateValue(v, names)]));
}

/** The same, for a value that must be a string (an environment variable). */
export function resolveTemplateString(value: unknown, names: ReadonlyMap<string, LocalResourceName>): string {
  const resolved = resolveTemplateValue(value, names);
  if (typeof resolved !== 'string') throw new Error(`expected a string, got ${JSON.stringify(value)}`);
  return resolved;
}

function resolveIntrinsic(fn: string, args: unknown, names: ReadonlyMap<string, LocalResourceName>): string {
  if (fn === 'Ref' && typeof args === 'string') {
    const pseudo: Record<string, string> = {
      'AWS::Partition': LOCAL_PARTITION,
      'AWS::Region': LOCAL_REGION,
      'AWS::AccountId': LOCAL_ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'Rejuv',
    };
    const resolved = pseudo[args] ?? names.get(args)?.ref;
    if (resolved !== undefined) return resolved;
  }
  if (fn === 'Fn::GetAtt' && Array.isArray(args) && args[1] === 'Arn') {
    const resolved = names.get(String(args[0]))?.arn;
    if (resolved !== undefined) return resolved;
  }
  // CDK splits an ARN to name its resource (a state machine's executions: `execution:<name>*`).
  if (fn === 'Fn::Select' && Array.isArray(args) && typeof args[0] === 'number') {
    const list = args[1] as { 'Fn::Split'?: unknown } | undefined;
    const split = list?.['Fn::Split'];
    if (Array.isArray(split) && typeof split[0] === 'string') {
      const parts = resolveTemplateString(split[1], names).split(split[0]);
      const selected = parts[args[0]];
      if (selected !== undefined) return selected;
    }
  }
  if (fn === 'Fn::Join' && Array.isArray(args) && typeof args[0] === 'string' && Array.isArray(args[1])) {
    return (args[1] as unknown[]).map((part) => resolveTemplateString(part, names)).join(args[0]);
  }
  throw new Error(`cannot resolve ${JSON.stringify({ [fn]: args })} locally`);
}
