/**
 * Lambda refuses to create a function whose environment is over 4 KB, measured the way Lambda measures
 * it: the variables as one JSON object (its error quotes the "String measured: {"KEY":"value",...}"), so a
 * JSON value counts with its quotes escaped. The template holds references (table names, ARNs) that only
 * CloudFormation resolves, so each is counted at the longest it can resolve to. Checked at synth, with the
 * settings that fill the environment named, instead of a failed deployment.
 */
import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { CfnFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { AGING_COLLECTION_ENV } from '../../lambdas/runtime/aging-collection-config.js';
import { OPERATOR_GRANTS_ENV } from '../../lambdas/runtime/operator-grants-config.js';
import { POLICY_ENV } from '../../lambdas/runtime/policy-config.js';
import { RUNTIME_CONFIG_ENV } from '../../lambdas/runtime/runtime-config.js';
import { AGING_ALARMS_ENV } from '../../shared/aging/aging-alarm-settings.js';
import { PREDICTION_SETTINGS_ENV } from '../../shared/aging/fleet-prediction-settings.js';

/** Lambda's quota "Environment variables: 4 KB, for all environment variables associated with the function". */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4 * 1024;

/** The longest ARN prefix: `arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:` and a margin. */
const ARN_PREFIX_BOUND = 70;
/** CloudFormation's generated names end in a 12-13 character random suffix after a dash. */
const GENERATED_SUFFIX_BOUND = 14;
/** Pseudo parameters at their longest (`aws-us-gov`, `ap-southeast-4`, an account id, `amazonaws.com.cn`). */
const PSEUDO_BOUNDS: Readonly<Record<string, number>> = {
  'AWS::Partition': 10,
  'AWS::Region': 14,
  'AWS::AccountId': 12,
  'AWS::URLSuffix': 16,
};
/** What a Ref resolves to, by resource type, and the service's longest name for it. */
const REF_SHAPES: Readonly<
  Record<string, { readonly arn: boolean; readonly maxName: number; readonly nameProperty?: string }>
> = {
  'AWS::DynamoDB::Table': { arn: false, maxName: 255, nameProperty: 'tableName' },
  'AWS::DynamoDB::GlobalTable': { arn: false, maxName: 255, nameProperty: 'tableName' },
  'AWS::SSM::Document': { arn: false, maxName: 128, nameProperty: 'name' },
  'AWS::SNS::Topic': { arn: true, maxName: 256, nameProperty: 'topicName' },
  'AWS::StepFunctions::StateMachine': { arn: true, maxName: 80, nameProperty: 'stateMachineName' },
  'AWS::Lambda::Function': { arn: false, maxName: 64, nameProperty: 'functionName' },
  'AWS::S3::Bucket': { arn: false, maxName: 63, nameProperty: 'bucketName' },
  'AWS::KMS::Key': { arn: false, maxName: 36 },
  // A queue's Ref is its URL: https://sqs.<region>.amazonaws.com/<account>/<name>.
  'AWS::SQS::Queue': { arn: true, maxName: 80, nameProperty: 'queueName' },
};
/** Anything else (a Ref or attribute of another type) is counted at this. */
const UNKNOWN_BOUND = 256;

/** Which setting of the construct fills each variable: named in the message when a function is over. */
export type EnvironmentSettings = Readonly<Record<string, string>>;

/** The RejuvenationCoordinator's variables that grow with its props, and those props. */
export const COORDINATOR_ENVIRONMENT_SETTINGS: EnvironmentSettings = {
  [POLICY_ENV]: 'policy',
  [OPERATOR_GRANTS_ENV]: 'operators',
  [RUNTIME_CONFIG_ENV]: 'pools, targetGroupArns',
  [AGING_ALARMS_ENV]: 'agingAlarms, agingAlarmNamePrefix',
  [PREDICTION_SETTINGS_ENV]: 'prediction',
  [AGING_COLLECTION_ENV]: 'agingCollection, managedInstanceTag',
  REJUV_ALARM_NAME_PREFIX: 'agingAlarmNamePrefix',
  REJUV_ALARM_HOST_DIMENSION: 'hostIdDimension',
};

export interface MeasuredEnvironment {
  /** Bytes Lambda would measure, with every reference at its longest. */
  readonly bytes: number;
  /** Each variable's share (its key, value and JSON punctuation), largest first. */
  readonly variables: readonly { readonly name: string; readonly bytes: number }[];
}

/** The function's environment as Lambda measures it, at its largest once deployed in `stack`. */
export function measureEnvironment(fn: IFunction): MeasuredEnvironment {
  const stack = Stack.of(fn);
  const cfn = fn.node.defaultChild;
  if (!(cfn instanceof CfnFunction)) return { bytes: 0, variables: [] };
  // The L1 property as the L2 set it (`{ variables }`), with its tokens resolved to intrinsics.
  const resolved = stack.resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
  const variables = Object.entries(resolved?.variables ?? {}).map(
    ([name, value]) => [name, longest(stack, value)] as const,
  );
  const measured = Object.fromEntries(variables);
  return {
    bytes: Buffer.byteLength(JSON.stringify(measured)),
    variables: variables
      .map(([name, value]) => ({ name, bytes: Buffer.byteLength(JSON.stringify({ [name]: value })) - 1 }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

/**
 * Refuses, at synth, every function of `functions` whose environment can pass Lambda's 4 KB, naming its
 * largest variables and the settings they come from.
 */
export function checkFunctionEnvironments(
  scope: IConstruct,
  functions: readonly IFunction[],
  settings: EnvironmentSettings,
): void {
  scope.node.addValidation({
    validate: () =>
      functions.flatMap((fn) => {
        const { bytes, variables } = measureEnvironment(fn);
        if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return [];
        const largest = variables
          .slice(0, 4)
          .map(
            (v) => `${v.name} ${v.bytes} B${settings[v.name] === undefined ? '' : ` (${settings[v.name]})`}`,
          )
          .join(', ');
        return [
          `${fn.node.id}: its environment measures up to ${bytes} bytes as Lambda counts it (its variables as one JSON object, once deployed), over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}: ${largest}. Shorten those settings.`,
        ];
      }),
  });
}

/** `value` with every intrinsic replaced by a placeholder as long as the longest text it can resolve to. */
function longest(stack: Stack, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || typeof value !== 'object') return 'x'.repeat(UNKNOWN_BOUND);
  const [fn, args] = Object.entries(value)[0] ?? [];
  if (fn === 'Fn::Join' && Array.isArray(args) && Array.isArray(args[1])) {
    const [separator, parts] = args as [string, unknown[]];
    return parts.map((part) => longest(stack, part)).join(separator);
  }
  if (fn === 'Ref' && typeof args === 'string') return 'x'.repeat(refBound(stack, args));
  if (fn === 'Fn::GetAtt' && Array.isArray(args) && typeof args[0] === 'string')
    return 'x'.repeat(ARN_PREFIX_BOUND + nameBound(stack, args[0]));
  return 'x'.repeat(UNKNOWN_BOUND);
}

function refBound(stack: Stack, logicalId: string): number {
  const pseudo = PSEUDO_BOUNDS[logicalId];
  if (pseudo !== undefined) return pseudo;
  if (logicalId === 'AWS::StackName') return stack.stackName.length;
  const shape = REF_SHAPES[resourceOf(stack, logicalId)?.cfnResourceType ?? ''];
  if (shape === undefined) return UNKNOWN_BOUND;
  return (shape.arn ? ARN_PREFIX_BOUND : 0) + nameBound(stack, logicalId);
}

/** The resource's name: the one the template gives it, else the longest CloudFormation generates. */
function nameBound(stack: Stack, logicalId: string): number {
  const resource = resourceOf(stack, logicalId);
  const shape = REF_SHAPES[resource?.cfnResourceType ?? ''];
  const given =
    shape?.nameProperty === undefined
      ? undefined
      : (resource as unknown as Record<string, unknown> | undefined)?.[shape.nameProperty];
  if (typeof given === 'string' && !Token.isUnresolved(given)) return given.length;
  const generated = Token.isUnresolved(stack.stackName)
    ? UNKNOWN_BOUND
    : stack.stackName.length + 1 + logicalId.length + GENERATED_SUFFIX_BOUND;
  return Math.min(shape?.maxName ?? UNKNOWN_BOUND, generated);
}

function resourceOf(stack: Stack, logicalId: string): CfnResource | undefined {
  return stack.node
    .findAll()
    .find(
      (c): c is CfnResource => c instanceof CfnResource && stack.resolve(stack.getLogicalId(c)) === logicalId,
    );
}
