/**
 * One example of every error class, keyed by the name it is exported under, with constructor arguments
 * type-checked against the class: the unit tests build each from source, the bundle test builds each
 * from the minified bundles. An error class added to one of these modules without an example here fails
 * the type check.
 */
import * as cliExitCodes from '../../cli/exit-codes.js';
import * as hostDocumentResult from '../../host/results/host-document-result.js';
import * as runnerErrors from '../../host/runner/errors.js';
import * as stepErrors from '../../lambdas/runtime/step-errors.js';
import * as awsJsonServer from '../../local/json-protocol/aws-json-server.js';
import * as queryErrors from '../../local/query-protocol/query-errors.js';
import * as cloudWatchErrors from '../../shared/adapters/cloudwatch/cloudwatch-errors.js';
import * as elbv2Errors from '../../shared/adapters/elbv2/elbv2-errors.js';
import * as snsErrors from '../../shared/adapters/sns/sns-errors.js';
import * as ssmErrors from '../../shared/adapters/ssm/errors.js';
import * as campaignErrors from '../../shared/campaign/campaign-errors.js';
import * as domainErrors from '../../shared/domain/errors.js';
import * as policyErrors from '../../shared/policy/policy-errors.js';

/** The constructor arguments of each concrete Error class a module exports (abstract ones have none). */
type ErrorExamples<M> = {
  [K in keyof M as M[K] extends new (...args: never[]) => Error ? K : never]: M[K] extends new (
    ...args: infer A
  ) => Error
    ? A
    : never;
};

/** Every module that defines error classes, by its path from the repository root. */
export const ERROR_MODULES: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  'shared/domain/errors.ts': domainErrors,
  'shared/adapters/ssm/errors.ts': ssmErrors,
  'shared/adapters/sns/sns-errors.ts': snsErrors,
  'shared/adapters/elbv2/elbv2-errors.ts': elbv2Errors,
  'shared/adapters/cloudwatch/cloudwatch-errors.ts': cloudWatchErrors,
  'lambdas/runtime/step-errors.ts': stepErrors,
  'host/runner/errors.ts': runnerErrors,
  'host/results/host-document-result.ts': hostDocumentResult,
  'local/query-protocol/query-errors.ts': queryErrors,
  'local/json-protocol/aws-json-server.ts': awsJsonServer,
  'cli/exit-codes.ts': cliExitCodes,
  'shared/campaign/campaign-errors.ts': campaignErrors,
  'shared/policy/policy-errors.ts': policyErrors,
};

const topicArn = 'arn:aws:sns:eu-west-1:123456789012:rejuv';
const targetGroupArn = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';
const deadline = '2026-11-01T00:00:00.000Z';

export const ERROR_EXAMPLES: Readonly<Record<string, readonly unknown[]>> = {
  ...({
    ValidationError: ['Admit input', ['executionId: required']],
    IllegalTransitionError: ['IN_SERVICE', 'RESUMING'],
    HostNotFoundError: ['host-1'],
    HostAlreadyRegisteredError: ['host-1'],
    StaleHostStateError: [
      'host-1',
      { state: 'DRAINING', stateVersion: 3, executionId: 'exec-a' },
      { state: 'IN_SERVICE', stateVersion: 4 },
    ],
    LockHeldError: ['host#host-1', { owner: 'exec-a', fencingToken: 7, expiresAtMs: 0 }],
    LeaseLostError: ['host#host-1', 'exec-a', 7],
    PoolFullError: ['pool-a', 1, ['host-2']],
    AuditContentionError: ['host-1', 5],
    PendingEntryContentionError: ['host-1', 5],
    DigestSequenceTakenError: ['audit-digests/0000000001.json'],
    AuditBundleUnreadableError: ['records.jsonl', 'line 3 is not JSON'],
    CorruptItemError: ['hosts', 'host-1', ['state: invalid']],
    PreflightRefusedError: ['host-1', ['vm1: passthrough device']],
    HostCommandFailedError: ['host-1', 'Preflight', 'cmd-1', 'exit status 1'],
    HostCommandTimeoutError: ['host-1', 'WarmReboot', 'cmd-1', deadline],
    HostNotBackError: ['host-1', deadline, 'ConnectionLost'],
    HostNotInServiceError: ['host-1', 'QUARANTINED'],
    HostOwnedByExecutionError: ['host-1', 'DRAINING', 'exec-a'],
    HostNotQuarantinedError: ['host-1', 'IN_SERVICE'],
    HostUnavailableError: ['host-1', 'offline', deadline],
    ReleaseCheckFailedError: ['host-1', 'Verify', 'vm1: guest heartbeat did not advance'],
    NotAuthorizedError: ['arn:aws:iam::123456789012:user/bob', 'start', 'bob may not start pool web'],
    UnclaimedExecutionError: ['op-host-1-4c05a94c20a6cb75', 'no-claim'],
  } satisfies ErrorExamples<typeof domainErrors>),
  ...({
    UnknownHostInstanceError: ['i-0123456789abcdef0'],
    UnknownHostDocumentError: ['rejuv-Verify'],
    HostCommandRejectedError: ['SendCommand', 'InvalidParameters', 'unknown parameter'],
    SsmUnavailableError: ['SendCommand', 'ThrottlingException', 'Rate exceeded'],
  } satisfies ErrorExamples<typeof ssmErrors>),
  ...({
    NotificationTopicNotFoundError: [topicArn],
    NotificationRejectedError: [topicArn, 'AuthorizationError', 'not allowed'],
    NotificationUnavailableError: [topicArn, 'Throttled', 'Rate exceeded'],
  } satisfies ErrorExamples<typeof snsErrors>),
  ...({
    TargetGroupNotFoundError: [targetGroupArn],
    InvalidLoadBalancerTargetError: [targetGroupArn, 'i-0123456789abcdef0'],
    LoadBalancerRequestRefusedError: ['RegisterTargets', targetGroupArn, 'AccessDenied', 'not allowed'],
    LoadBalancerUnavailableError: ['DeregisterTargets', targetGroupArn, 'Throttling', 'Rate exceeded'],
  } satisfies ErrorExamples<typeof elbv2Errors>),
  ...({
    AgingMetricsRejectedError: ['PutMetricData', 'InvalidParameterValue', 'value is NaN'],
    AgingMetricsUnavailableError: ['GetMetricData', 'Throttling', 'Rate exceeded'],
  } satisfies ErrorExamples<typeof cloudWatchErrors>),
  ...({ TransientError: ['ThrottlingException: Rate exceeded'] } satisfies ErrorExamples<typeof stepErrors>),
  ...({
    DocumentParameterError: ['rejuv-Verify', ['level: not one of the allowed values']],
    UnsupportedDocumentError: ['rejuv-Verify', 'aws:runPowerShellScript is not emulated'],
  } satisfies ErrorExamples<typeof runnerErrors>),
  ...({
    HostResultUnreadableError: ['stdout has no JSON line'],
    HostResultVersionError: ['2'],
  } satisfies ErrorExamples<typeof hostDocumentResult>),
  ...({
    QueryServiceError: ['NotFound', 'Topic does not exist', 404],
    MalformedQueryError: ['repeated key Action'],
  } satisfies ErrorExamples<typeof queryErrors>),
  ...({ AwsServiceError: ['InvalidInstanceId', 'no such instance'] } satisfies ErrorExamples<
    typeof awsJsonServer
  >),
  ...({ CliError: ['no such host host-9', 4] } satisfies ErrorExamples<typeof cliExitCodes>),
  ...({
    CampaignTransitionError: ['campaign-1', 'cancelled', 'resume'],
    CampaignNotFoundError: ['campaign-1'],
    CampaignExistsError: ['campaign-1'],
    CampaignApprovalError: ['campaign-1', 'already approved by arn:aws:iam::000000000000:user/bob'],
    CampaignApprovalDecidedError: ['campaign-1', 'approved'],
  } satisfies ErrorExamples<typeof campaignErrors>),
  ...({
    PolicyRefusedError: [
      'host-1',
      {
        rule: 'window',
        reason: 'pool web is outside its maintenance windows',
        untilMs: Date.parse(deadline),
      },
    ],
  } satisfies ErrorExamples<typeof policyErrors>),
};

/** Exported, but abstract: nothing constructs them, so they have no example (JavaScript cannot tell). */
const ABSTRACT_ERROR_CLASSES: ReadonlySet<string> = new Set(['RejuvError']);

/** The concrete Error classes a module exports, by export name (a live module or a bundle's exports). */
export function errorClassesOf(module: Readonly<Record<string, unknown>>): [string, ErrorClass][] {
  return Object.entries(module).filter(
    (entry): entry is [string, ErrorClass] => isErrorClass(entry[1]) && !ABSTRACT_ERROR_CLASSES.has(entry[0]),
  );
}

export type ErrorClass = new (...args: readonly unknown[]) => Error;

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && value.prototype instanceof Error;
}

/** Builds the example of the class exported as `exportName`; throws when there is none. */
export function exampleOf(exportName: string, errorClass: ErrorClass): Error {
  const args = ERROR_EXAMPLES[exportName];
  if (args === undefined) throw new Error(`test/support/error-examples.ts has no example of ${exportName}`);
  return new errorClass(...args);
}
