/**
 * A local SSM service: the SSM JSON protocol (awsJson1_1) on 127.0.0.1, so the real @aws-sdk/client-ssm
 * sends Command documents to "hosts" that are directories of this machine, run by the host document runner.
 *
 * Emulated: SendCommand (to InstanceIds, or by Targets: `tag:<key>` and `InstanceIds`, with MaxConcurrency
 * and MaxErrors as rate-controls.ts describes), GetCommandInvocation, ListCommands, ListCommandInvocations
 * (with Details: each invocation's plugin output, 2,500 characters of it as SSM gives),
 * CancelCommand, DescribeInstanceInformation (with tag filters), ListTagsForResource (hybrid `mi-` nodes only, as SSM),
 * GetDocument; pagination; SSM's error codes; output truncated
 * to 24,000/8,000 characters; the delivery timeout. An agent taken offline with `setOnline(id, false)`
 * reports ConnectionLost and leaves new commands Pending until it is back (then they run) or until the
 * command's TimeoutSeconds (then TimedOut, DeliveryTimedOut), which is what SSM does for an agent that
 * stopped pinging recently. (SSM may also refuse SendCommand with InvalidInstanceId once an agent has
 * been gone long; that is not emulated.)
 *
 * Not emulated: resource-group targets, S3/CloudWatch output, notifications, per-step plugin output (one
 * plugin per invocation, named after the document's last step), document versions, signatures (the access
 * key names the caller), the Delayed, Undeliverable and InvalidPlatform statuses.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import { CommandDocumentSchema, type CommandDocument } from '../../host/runner/command-document.js';
import { systemClock, type Clock } from '../../shared/domain/clock.js';
import {
  refusedJsonRequest,
  startAwsJsonServer,
  type JsonOperation,
} from '../json-protocol/aws-json-server.js';
import type { Authorizer } from '../iam/local-iam.js';
import { ssmRequests, type ArnContext } from '../iam/service-requests.js';
import { runnerExecutor, type DocumentExecutor } from './document-executor.js';
import { LocalCommands, type InvocationStatus, type InvocationView } from './local-commands.js';
import { ManagedHosts, type ManagedNode } from './managed-hosts.js';
import { RequestFaults } from './request-faults.js';
import { ssmOperations, type SsmOperation } from './ssm-operations.js';

export type { DocumentExecution, DocumentExecutor, ExecutedDocument } from './document-executor.js';
export type { InvocationStatus, InvocationView } from './local-commands.js';
export type { SsmOperation } from './ssm-operations.js';
export type { ManagedNode } from './managed-hosts.js';

export interface LocalSsmHost {
  /** The directory acting as the host's root (the runner passes it to scripts as REJUV_HOST_ROOT). */
  readonly hostRoot: string;
  /** Whether its agent starts online. @default true */
  readonly online?: boolean;
  /** The instance's tags. @default none */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface LocalSsmOptions {
  /** Command documents (schemaVersion 2.2) by document name, as parsed JSON or YAML. */
  readonly documents: Readonly<Record<string, unknown>>;
  /** Managed instances by instance id (`i-…` or `mi-…`). @default none; add them with `registerHost` */
  readonly hosts?: Readonly<Record<string, LocalSsmHost>>;
  /** Runs a delivered command on its host. @default the host document runner (host/runner) */
  readonly executor?: DocumentExecutor;
  /** Time for command timestamps, agent pings and delivery timeouts. @default systemClock */
  readonly clock?: Clock;
  /** What DescribeInstanceInformation reports as every agent's AgentVersion. @default '3.3.0-local' */
  readonly agentVersion?: string;
  /** Local IAM: every request is authorized as its signer's policies allow. @default anyone may do anything */
  readonly authorizer?: Authorizer;
  /** Partition, region and account of the ARNs IAM evaluates. @default aws, us-east-1, 000000000000 */
  readonly arns?: ArnContext;
}

/** One invocation (a command on one instance) as the endpoint holds it. */
export interface LocalInvocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly comment: string;
  readonly status: InvocationStatus;
}

export interface RunningLocalSsm {
  /** `http://127.0.0.1:<port>`, for the SDK client's `endpoint`. */
  readonly endpoint: string;
  /**
   * Makes `hostRoot` the managed instance `instanceId` (its agent online), or moves it there. `node` is
   * for a host with its own kernel: its steps run there and it really reboots on exit 194.
   */
  registerHost(
    instanceId: string,
    hostRoot: string,
    tags?: Readonly<Record<string, string>>,
    node?: ManagedNode,
  ): void;
  /**
   * Sets extra environment for the documents a host's agent runs, e.g. the host agent's fault seams
   * (REJUV_HOLD_AT, REJUV_HOLD_DIR: see host/README.md).
   */
  setAgentEnvironment(instanceId: string, environment: Readonly<Record<string, string>>): void;
  /** Replaces an instance's tags (what DescribeInstanceInformation's tag filters, ListTagsForResource and IAM see). */
  setTags(instanceId: string, tags: Readonly<Record<string, string>>): void;
  /** Every managed instance with its tags (EC2's view of the `i-` ones: local/ec2-endpoint.ts). */
  instances(): readonly { readonly instanceId: string; readonly tags: Readonly<Record<string, string>> }[];
  /** Takes a host's agent offline (ConnectionLost; commands wait for it) or brings it back. */
  setOnline(instanceId: string, online: boolean): void;
  /** Calls `listener` whenever an invocation ends on a host: where fault tests act on the host. */
  onCommandFinished(listener: (invocation: InvocationView) => void): void;
  /** Every invocation so far, oldest command first. */
  commands(): readonly LocalInvocation[];
  /**
   * Fault seam: the next `count` requests for `operation` fail with the SSM error `code`, e.g.
   * `ThrottlingException` (400, the SDK retries it) or `InternalServerError` (500, retried too), or
   * `InvocationDoesNotExist` to replay SSM's race right after SendCommand.
   */
  failNext(operation: SsmOperation, code: string, count?: number): void;
  /** Requests received for `operation`, failed ones included: shows how often the SDK retried. */
  requestCount(operation: SsmOperation): number;
  /** Cancels every command still pending or running, waits for their runs to end, closes the server. */
  stop(): Promise<void>;
}

const DEFAULT_AGENT_VERSION = '3.3.0-local';

/**
 * @example
 * const ssm = await startLocalSsmEndpoint({
 *   documents: { 'rejuv-Verify': verifyDocument },
 *   hosts: { 'mi-0123456789abcdef0': { hostRoot: '/tmp/host-a' } },
 * });
 * const client = localSsmClient(ssm.endpoint);
 * // ... new SsmHostCommands(client).send(...)
 * await ssm.stop();
 */
export async function startLocalSsmEndpoint(options: LocalSsmOptions): Promise<RunningLocalSsm> {
  const clock = options.clock ?? systemClock;
  const documents = new Map<string, CommandDocument>();
  for (const [name, content] of Object.entries(options.documents)) {
    const parsed = CommandDocumentSchema.safeParse(content);
    if (!parsed.success)
      throw new Error(`document ${name} is not a Command document: ${parsed.error.message}`);
    documents.set(name, parsed.data);
  }
  const hosts = new ManagedHosts(clock);
  for (const [instanceId, host] of Object.entries(options.hosts ?? {}))
    hosts.register(instanceId, host.hostRoot, host.online ?? true, host.tags);
  const commands = new LocalCommands(hosts, options.executor ?? runnerExecutor, clock);
  const faults = new RequestFaults();

  const arns = options.arns ?? { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };
  const authorizer = options.authorizer;
  const operations = ssmOperations({
    documents,
    hosts,
    commands,
    agentVersion: options.agentVersion ?? DEFAULT_AGENT_VERSION,
    // A send by Targets is authorized on the document before it runs; each instance the targets resolve
    // to is then authorized on its own, and one IAM refuses ends AccessDenied instead of failing the call.
    ...(authorizer === undefined
      ? {}
      : {
          mayTarget: async (accessKeyId, documentName, instanceId) => {
            const requests = ssmRequests(
              arns,
              'SendCommand',
              { DocumentName: documentName, InstanceIds: [instanceId] },
              (id) => hosts.get(id)?.tags ?? {},
            ).slice(1);
            return (await authorizer.authorize(accessKeyId, requests)).outcome === 'allowed';
          },
        }),
  });
  // Delivery timeouts are noticed when someone looks, which is before every request.
  const expiringFirst = Object.fromEntries(
    Object.entries(operations).map(([name, operation]): [string, JsonOperation] => [
      name,
      (body, caller) => {
        commands.expireDeliveries();
        return operation(body, caller);
      },
    ]),
  );
  const server = await startAwsJsonServer({
    targetPrefix: 'AmazonSSM',
    jsonVersion: '1.1',
    operations: faults.wrap(expiringFirst),
    ...(authorizer === undefined
      ? {}
      : {
          authorize: async ({ operation, body, accessKeyId }) => {
            const requests = ssmRequests(arns, operation, body, (id) => hosts.get(id)?.tags ?? {});
            const refused = refusedJsonRequest(await authorizer.authorize(accessKeyId, requests));
            if (refused !== undefined) throw refused;
          },
        }),
  });

  return {
    endpoint: server.endpoint,
    registerHost: (instanceId, hostRoot, tags, node) =>
      hosts.register(instanceId, hostRoot, true, tags, node),
    setAgentEnvironment: (instanceId, environment) => hosts.setAgentEnvironment(instanceId, environment),
    setOnline: (instanceId, online) => hosts.setOnline(instanceId, online),
    setTags: (instanceId, tags) => hosts.setTags(instanceId, tags),
    instances: () => hosts.list().map(({ instanceId, tags }) => ({ instanceId, tags })),
    onCommandFinished: (listener) => commands.onFinished(listener),
    commands: () => {
      commands.expireDeliveries();
      return commands.list().flatMap((c) =>
        c.invocations.map(({ commandId, instanceId, documentName, comment, status }) => ({
          commandId,
          instanceId,
          documentName,
          comment,
          status,
        })),
      );
    },
    failNext: (operation, code, count) => faults.failNext(operation, code, count),
    requestCount: (operation) => faults.requestCount(operation),
    stop: async () => {
      await commands.stop();
      await server.stop();
    },
  };
}

/** A real SSM client pointed at a local endpoint, with the dummy credentials it needs to sign. */
export function localSsmClient(endpoint: string, options: { readonly maxAttempts?: number } = {}): SSMClient {
  return new SSMClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}
