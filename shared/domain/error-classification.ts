/**
 * How every rejuv error is to be treated by whoever receives it, written once: the state machines'
 * Retry lists (cdk/rejuvenation-workflow.ts, cdk/campaign-workflow.ts) and the CLI's exit codes
 * (cli/exit-codes.ts) are derived from this table, and test/unit/domain/error-classification.test.ts
 * checks that they, the synthesized template and each class's own `retryable` agree with it.
 * Raw AWS SDK faults are classified once too, in shared/adapters/aws/sdk-error-class.ts.
 */

export type ErrorKind =
  /** The same call may succeed later as it is: every step's Retry tries again with backoff; CLI 5. */
  | 'transient'
  /**
   * Someone else holds what is needed (a lease, a pool slot): retried only by the steps that say how
   * long to wait for it (Admit for a slot, compensation for the lock); to a person, a conflict (CLI 8).
   */
  | 'contended'
  /** The caller's input is wrong; nothing changed (CLI 2). */
  | 'usage'
  /** The host, execution or campaign named does not exist (CLI 4). */
  | 'notFound'
  /** The caller holds no grant for it (CLI 7). */
  | 'notAuthorized'
  /** Refused because of where the host or campaign stands; retrying as it is changes nothing (CLI 8). */
  | 'conflict'
  /** It ran, and the outcome is a failure the workflow compensates and a person may look at (CLI 1). */
  | 'failed';

/**
 * Every error a step, the operator API or the CLI can raise, by its `name` (the literal the class sets:
 * what Retry and Catch match). Not here: the local twin's own errors (local/, host/runner/), which
 * stand for AWS's answers, not rejuv's.
 */
export const ERROR_KINDS = {
  // shared/domain/errors.ts
  ValidationError: 'usage',
  IllegalTransitionError: 'conflict',
  HostNotFoundError: 'notFound',
  HostAlreadyRegisteredError: 'conflict',
  StaleHostStateError: 'conflict',
  LockHeldError: 'contended',
  LeaseLostError: 'conflict',
  PoolFullError: 'contended',
  PendingEntryContentionError: 'transient',
  AuditContentionError: 'transient',
  DigestSequenceTakenError: 'transient',
  AuditBundleUnreadableError: 'failed',
  CorruptItemError: 'failed',
  PreflightRefusedError: 'failed',
  HostCommandFailedError: 'failed',
  HostCommandTimeoutError: 'failed',
  HostNotBackError: 'failed',
  HostNotInServiceError: 'conflict',
  HostOwnedByExecutionError: 'conflict',
  HostNotQuarantinedError: 'conflict',
  HostUnavailableError: 'conflict',
  ReleaseCheckFailedError: 'failed',
  NotAuthorizedError: 'notAuthorized',
  UnclaimedExecutionError: 'failed',
  // host/results/host-document-result.ts: a line of another release is not transient: the same host
  // prints the same line until the matching documents are deployed.
  HostResultUnreadableError: 'failed',
  HostResultVersionError: 'failed',
  // lambdas/runtime/step-errors.ts: an AWS or network fault the SDK gave up on.
  TransientError: 'transient',
  // The adapters: each service's refusals, and its faults after the SDK's own retries.
  UnknownHostInstanceError: 'failed',
  UnknownHostDocumentError: 'failed',
  HostCommandRejectedError: 'failed',
  SsmUnavailableError: 'transient',
  NotificationTopicNotFoundError: 'failed',
  NotificationRejectedError: 'failed',
  NotificationUnavailableError: 'transient',
  TargetGroupNotFoundError: 'failed',
  InvalidLoadBalancerTargetError: 'failed',
  LoadBalancerRequestRefusedError: 'failed',
  LoadBalancerUnavailableError: 'transient',
  AgingMetricsRejectedError: 'failed',
  AgingMetricsUnavailableError: 'transient',
  // shared/campaign/campaign-errors.ts, shared/policy/policy-errors.ts
  CampaignTransitionError: 'conflict',
  CampaignNotFoundError: 'notFound',
  CampaignExistsError: 'conflict',
  CampaignApprovalError: 'conflict',
  CampaignApprovalDecidedError: 'conflict',
  PolicyRefusedError: 'failed',
} as const satisfies Readonly<Record<string, ErrorKind>>;

export type RejuvErrorName = keyof typeof ERROR_KINDS;

/**
 * The Lambda service's own errors around a handler, as the optimized integration names them: transient
 * too. `Lambda.Unknown` is a crash (runtime exit, out of memory), possibly after its writes: every step
 * is idempotent, so running it again does its effect once.
 */
export const LAMBDA_SERVICE_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
] as const;

/** The kind of the error named `name`, or undefined for a name that is not rejuv's. */
export function kindOfErrorName(name: string): ErrorKind | undefined {
  return Object.hasOwn(ERROR_KINDS, name) ? ERROR_KINDS[name as RejuvErrorName] : undefined;
}

/** rejuv's transient errors, in the table's order. */
export const TRANSIENT_ERROR_NAMES: readonly RejuvErrorName[] = (
  Object.keys(ERROR_KINDS) as RejuvErrorName[]
).filter((name) => ERROR_KINDS[name] === 'transient');

/**
 * Transient errors that no state machine step raises: the pending drainer's, the digest sealer's and
 * the aging functions' (run by schedules and queues, whose own retries apply). A step's Retry names
 * only what its function can throw (test/unit/cdk/bundled-error-names.test.ts checks each name).
 */
const TRANSIENT_OUTSIDE_STEPS: ReadonlySet<RejuvErrorName> = new Set([
  'PendingEntryContentionError',
  'DigestSequenceTakenError',
  'AgingMetricsUnavailableError',
]);

/** What every step's Retry matches: the Lambda service's faults and the steps' transient errors. */
export const STEP_RETRY_ERRORS: readonly string[] = [
  ...LAMBDA_SERVICE_TRANSIENT_ERRORS,
  ...TRANSIENT_ERROR_NAMES.filter((name) => !TRANSIENT_OUTSIDE_STEPS.has(name)),
];
