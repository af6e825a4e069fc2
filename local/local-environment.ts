/**
 * Local mode: a twin of the deployed coordinator on this machine. One call synthesizes the stack, starts
 * DynamoDB Local behind an IAM front door, local SSM, SNS and Step Functions endpoints and a local Lambda
 * service, creates the tables and documents the template declares, and runs each function from the bundle
 * `cdk synth` writes, in processes of its own, with the environment the template gives it and the
 * credentials of its own role. Every call a function makes is authorized against that role's policies,
 * as IAM would; the state machine invokes the functions under its own role. Nothing of the functions runs
 * in this process: they reach the local endpoints through the SDK's AWS_ENDPOINT_URL_* variables.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RejuvenationCoordinatorProps } from '../cdk/rejuvenation-coordinator.js';
import {
  CAMPAIGN_STEPS,
  WORKFLOW_STEPS,
  type CampaignStepId,
  type TRIGGERS,
  type WorkflowStepId,
} from '../lambdas/step-catalog.js';
import { createTables } from '../shared/adapters/dynamodb/create-tables.js';
import { createDynamoDbStore, type Store } from '../shared/adapters/dynamodb/dynamodb-store.js';
import {
  TABLE_IDS,
  tableNamesFor,
  type TableId,
  type TableNames,
} from '../shared/store/table-definitions.js';
import { userInfo } from 'node:os';
import { signedPost, type SigningCredentials } from '../cli/signed-request.js';
import type { TriggerResult } from '../shared/workflow/start-rejuvenation.js';
import { ADMIN_ACCESS_KEY_ID, LocalIam, type LocalIdentity } from './iam/local-iam.js';
import { startLocalFunctionUrlEndpoint, type FunctionUrlRequestRecord } from './function-url-endpoint.js';
import { functionResourcePolicy } from './template-function-policy.js';
import { deployedArtifacts } from './lambda-runtime/deployed-artifacts.js';
import { LambdaFunctionError, LocalLambdaRuntime } from './lambda-runtime/local-lambda-runtime.js';
import { startRequestCounter, type RunningRequestCounter } from './request-counter.js';
import { localDynamoDbClient, startDynamoDbLocal, type RunningDynamoDbLocal } from './dynamodb-local.js';
import { startLocalKmsEndpoint, type RunningLocalKms } from './kms-endpoint.js';
import { startLocalCloudWatchEndpoint, type RunningLocalCloudWatch } from './cloudwatch-endpoint.js';
import { startLocalS3Endpoint, type RunningLocalS3, type ObjectLockMode } from './s3-endpoint.js';
import { startLocalSnsEndpoint, type RunningLocalSns } from './sns-endpoint.js';
import { startLocalSsmEndpoint, type RunningLocalSsm } from './ssm-endpoint/ssm-endpoint.js';
import { startLocalEc2Endpoint } from './ec2-endpoint.js';
import {
  localStateMachineArn,
  startLocalStepFunctions,
  type LocalExecution,
  type LocalHandler,
  type RunningLocalStepFunctions,
} from './step-functions/local-step-functions.js';
import {
  constructIdOf,
  LOCAL_ACCOUNT,
  LOCAL_PARTITION,
  LOCAL_REGION,
  localFunctionArn,
  synthesizeTemplate,
  workflowFromTemplate,
  type SynthesizedWorkflow,
  type Template,
} from './step-functions/synthesized-workflow.js';
import { roleLogicalIdOf, rolePolicies, templateFunctions } from './template-roles.js';
import { localResourceNames, resolveTemplateValue, type LocalResourceName } from './template-values.js';
import type { PolicyDocument } from './iam/local-iam.js';
import type { AlarmStateChangeEvent } from './cloudwatch-alarms.js';
import { permittedTarget, templatePatternRules } from './template-event-rules.js';

export interface LocalEnvironmentOptions {
  /** Props of the coordinator, as a deployment would set them. */
  readonly coordinator?: RejuvenationCoordinatorProps;
  /**
   * Pause of every Wait state; the deployed poll interval is for real hosts. `'synthesized'` keeps each
   * Wait at its synthesized duration (what a deployment waits: a cost measurement's loop counts). @default 200
   */
  readonly waitMs?: number | 'synthesized';
  /** Pause before every retry. */
  readonly retryIntervalMs?: number;
  /** Pause before Admit asks again for a pool slot; with its attempts, how long a host waits for one. */
  readonly poolSlotRetryMs?: number;
  /** Prefix of the local table names. */
  readonly tablePrefix?: string;
  /** Keep DynamoDB Local's tables on disk here, so `dynamoDb.restart()` is a real outage. */
  readonly dynamoDbPath?: string;
  /**
   * Wraps each step function's invocation by the state machine, as the Lambda service around it: where
   * fault tests make an invocation crash after its handler returned, or stall before it starts.
   */
  readonly wrapStepHandler?: (stepId: string, handler: LocalHandler) => LocalHandler;
  /** Where the functions' output goes (their CloudWatch Logs). @default discarded */
  readonly functionLogs?: (functionName: string, chunk: string) => void;
}

export interface LocalEnvironment {
  readonly dynamoDb: RunningDynamoDbLocal;
  readonly ssm: RunningLocalSsm;
  readonly sns: RunningLocalSns;
  /** The stack's SIGN_VERIFY keys, with real key pairs. */
  readonly kms: RunningLocalKms;
  /** The stack's buckets, with versioning and Object Lock. */
  readonly s3: RunningLocalS3;
  /**
   * Metrics in memory (the aging measurements) and alarms evaluated on them; SigV4-verified, under each
   * role's policies. An alarm's state change goes to every synthesized rule whose pattern matches it.
   */
  readonly cloudWatch: RunningLocalCloudWatch;
  /** Every alarm state change CloudWatch sent, with the rules it matched and whose targets got it. */
  alarmEvents(): readonly { readonly event: AlarmStateChangeEvent; readonly rules: readonly string[] }[];
  /** Where the digests are, as the stack's outputs AuditDigestBucketName and AuditDigestKeyArn name them. */
  readonly auditDigests: {
    readonly bucketName: string;
    readonly keyArn: string;
    /** The output AuditSealIntervalSeconds: what verification judges overdue records by. */
    readonly sealIntervalSeconds: number;
  };
  /** Local names of the template's resources, by logical id. */
  readonly names: ReadonlyMap<string, LocalResourceName>;
  readonly stepFunctions: RunningLocalStepFunctions;
  /** The state machine as synthesized, with its functions. */
  readonly workflow: SynthesizedWorkflow;
  /**
   * The functions' way to DynamoDB: IAM, a tally of what a run costs, and faults to arm (throttling,
   * server errors, delays).
   */
  readonly dynamoDbRequests: RunningRequestCounter;
  /** Local IAM: every function's identity, and every request it refused. */
  readonly iam: LocalIam;
  /** The functions, each running its deployed bundle. */
  readonly lambda: LocalLambdaRuntime;
  readonly tables: TableNames;
  /** The store as an administrator sees it (DynamoDB Local directly): for setup and inspection. */
  readonly store: Store;
  readonly client: DynamoDBClient;
  /** The deployed document name of each host document (e.g. Preflight). */
  readonly documentNames: Readonly<Record<string, string>>;
  /** Invokes a trigger function (its bundle), as EventBridge or an operator would. */
  invokeTrigger(trigger: keyof typeof TRIGGERS, event: unknown): Promise<unknown>;
  /**
   * The operator API as a deployment exposes it: a function URL that verifies SigV4 and authorizes
   * lambda:InvokeFunctionUrl under local IAM, then runs the OperatorApi bundle. `operator` is the local
   * operator (an IAM user granted every pool, as \`rejuv local up\` gives the CLI).
   */
  readonly operatorApi: LocalOperatorApi;
  /**
   * Starts maintenance through the operator API, signed as the local operator (or `as`): the start's
   * answer (execution name, started or duplicate). A refusal throws, with the API's status and error.
   */
  startAsOperator(
    request: Readonly<Record<string, unknown>>,
    as?: SigningCredentials,
  ): Promise<TriggerResult>;
  /** A Step Functions client pointed at the local endpoint, with an administrator's credentials. */
  sfnClient(): SFNClient;
  /**
   * Resolves once every EventBridge delivery started so far (the reaper, the audit sealer) has finished:
   * what a check of an ended execution's aftermath waits for.
   */
  eventDeliveriesSettled(): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalOperatorApi {
  readonly url: string;
  /** The local operator: granted every pool by the synthesized stack. */
  readonly operator: LocalIdentity;
  /** Every request the function URL answered, with the signer and why it refused. */
  requests(): readonly FunctionUrlRequestRecord[];
  /** Sends a signed request as `as` (default: the local operator); any status comes back. */
  send(body: unknown, as?: SigningCredentials): Promise<{ readonly status: number; readonly body: unknown }>;
}

/** A non-200 answer of the operator API. */
export class OperatorApiRefusal extends Error {
  override readonly name = 'OperatorApiRefusal';
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`operator API answered ${status}: ${JSON.stringify(body)}`);
  }
}

/** The local operator's IAM user name: the person running local mode. */
export function localOperatorUserName(): string {
  return (userInfo().username.replace(/[^\w+=,.@-]/g, '_') || 'operator').slice(0, 64);
}

export function localOperatorArn(): string {
  return `arn:aws:iam::${LOCAL_ACCOUNT}:user/${localOperatorUserName()}`;
}

export async function startLocalEnvironment(
  options: LocalEnvironmentOptions = {},
): Promise<LocalEnvironment> {
  // As a deployment lists its operators, local mode lists the person running it, on every pool.
  const template = synthesizeTemplate({
    ...options.coordinator,
    operators: [
      { principals: [localOperatorArn()], pools: ['*'] },
      ...(options.coordinator?.operators ?? []),
    ],
  });
  const workflow = workflowFromTemplate(template);
  const artifacts = deployedArtifacts();
  const stopping: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of stopping.reverse()) await step().catch(() => undefined);
  };
  const arns = { partition: LOCAL_PARTITION, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT };
  const iam = new LocalIam(LOCAL_ACCOUNT);

  try {
    const dynamoDb = await startDynamoDbLocal(
      options.dynamoDbPath === undefined ? {} : { dbPath: options.dynamoDbPath },
    );
    stopping.push(() => dynamoDb.stop());
    const client = localDynamoDbClient(dynamoDb.endpoint);
    stopping.push(async () => client.destroy());
    const tables = tableNamesFor(options.tablePrefix ?? 'rejuv-local');
    await createTables(client, tables);

    // DynamoDB's front door: IAM, the request tally and the network faults, all on the functions' path.
    const dynamoDbFront = await startRequestCounter(dynamoDb.endpoint, { authorizer: iam, arns });
    stopping.push(() => dynamoDbFront.stop());

    const sns = await startLocalSnsEndpoint({
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      authorizer: iam,
    });
    stopping.push(() => sns.stop());
    const topicLogicalId = logicalIdsOfType(template, 'AWS::SNS::Topic')[0];
    if (topicLogicalId === undefined) throw new Error('the synthesized stack has no notification topic');
    const topicArn = sns.createTopic(`rejuv-${topicLogicalId}`);

    const documents = documentsOf(template);
    const ssm = await startLocalSsmEndpoint({
      documents: Object.fromEntries(Object.values(documents).map((d) => [d.name, d.content])),
      authorizer: iam,
      arns,
    });
    stopping.push(() => ssm.stop());
    // An EC2 instance's tags are EC2's: the local EC2 reports those of the local SSM's `i-` instances.
    const ec2 = await startLocalEc2Endpoint({
      instances: () => ssm.instances().filter((i) => i.instanceId.startsWith('i-')),
      authorizer: iam,
    });
    stopping.push(() => ec2.stop());

    const stateMachineLogicalId =
      workflow.logicalId ?? logicalIdsOfType(template, 'AWS::StepFunctions::StateMachine')[0];
    if (stateMachineLogicalId === undefined) throw new Error('the synthesized stack has no state machine');
    const names = localResourceNames(
      template,
      localNamesOf(template, {
        tables,
        documents,
        topicArn,
        stateMachineLogicalId,
        ...(workflow.campaign === undefined
          ? {}
          : {
              campaignStateMachine: {
                logicalId: workflow.campaign.logicalId,
                name: workflow.campaign.name,
              },
            }),
      }),
    );
    const policies = rolePolicies(template, names);

    const kms = await startLocalKmsEndpoint({ arns, authorizer: iam });
    stopping.push(() => kms.stop());
    const cloudWatch = await startLocalCloudWatchEndpoint({ iam, region: LOCAL_REGION, arns });
    stopping.push(() => cloudWatch.stop());
    for (const keyId of logicalIdsOfType(template, 'AWS::KMS::Key')) {
      const p = template.Resources[keyId]?.Properties ?? {};
      if (p['KeyUsage'] !== 'SIGN_VERIFY') continue; // symmetric keys (the topic's) are not emulated
      if (p['KeySpec'] !== 'RSA_2048')
        throw new Error(`key ${keyId}: only RSA_2048 signing keys are emulated`);
      kms.createSigningKey(keyId, resolveTemplateValue(p['KeyPolicy'], names) as PolicyDocument);
    }
    const s3 = await startLocalS3Endpoint({ partition: LOCAL_PARTITION, authorizer: iam });
    stopping.push(() => s3.stop());
    for (const bucketId of logicalIdsOfType(template, 'AWS::S3::Bucket')) {
      const lock = template.Resources[bucketId]?.Properties?.['ObjectLockConfiguration'] as
        { Rule?: { DefaultRetention?: { Mode?: ObjectLockMode; Days?: number } } } | undefined;
      const retention = lock?.Rule?.DefaultRetention;
      const policy = bucketPolicyOf(template, bucketId, names);
      s3.createBucket(names.get(bucketId)?.ref ?? bucketId, {
        ...(retention?.Mode !== undefined && retention.Days !== undefined
          ? { defaultRetention: { mode: retention.Mode, days: retention.Days } }
          : {}),
        ...(policy === undefined ? {} : { policy }),
      });
    }
    const identityOf = (roleLogicalId: string, sessionName: string) =>
      iam.assumeRole(
        names.get(roleLogicalId)?.ref ?? roleLogicalId,
        sessionName,
        policies.get(roleLogicalId) ?? [],
      );

    // Step Functions' endpoint is known only once it listens, after the functions are declared.
    const endpoints = { sfn: '' };
    const lambda = new LocalLambdaRuntime({
      runtimeModules: artifacts.runtimeModules,
      functions: templateFunctions(template, names).map((fn) => {
        const code = artifacts.functions.get(fn.constructId);
        if (code === undefined) throw new Error(`no bundle for ${fn.constructId}: synthesize again`);
        if (code.handler !== fn.handler)
          throw new Error(
            `${fn.constructId}: the template's handler ${fn.handler} is not the bundle's ${code.handler}`,
          );
        const functionName = names.get(fn.logicalId)?.ref ?? fn.logicalId;
        const identity = identityOf(fn.roleLogicalId, functionName);
        return {
          constructId: fn.constructId,
          functionName,
          functionArn: names.get(fn.logicalId)?.arn ?? localFunctionArn(fn.logicalId),
          runtime: fn.runtime,
          code,
          environment: fn.environment,
          timeoutSeconds: fn.timeoutSeconds,
          memoryMiB: fn.memoryMiB,
          serviceEnvironment: () => ({
            AWS_REGION: LOCAL_REGION,
            AWS_DEFAULT_REGION: LOCAL_REGION,
            AWS_ACCESS_KEY_ID: identity.accessKeyId,
            AWS_SECRET_ACCESS_KEY: identity.secretAccessKey,
            AWS_SESSION_TOKEN: identity.sessionToken,
            AWS_ENDPOINT_URL_DYNAMODB: dynamoDbFront.endpoint,
            AWS_ENDPOINT_URL_SSM: ssm.endpoint,
            AWS_ENDPOINT_URL_EC2: ec2.endpoint,
            AWS_ENDPOINT_URL_SNS: sns.endpoint,
            AWS_ENDPOINT_URL_KMS: kms.endpoint,
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.endpoint,
            AWS_ENDPOINT_URL_SFN: endpoints.sfn,
            // No X-Ray daemon here: the tracer would only complain about missing segments.
            POWERTOOLS_TRACE_ENABLED: 'false',
            POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'ERROR',
          }),
        };
      }),
      ...(options.functionLogs === undefined ? {} : { log: options.functionLogs }),
    });
    stopping.push(() => lambda.stop());

    const invokeAsTask =
      (constructId: string): LocalHandler =>
      async (input) => {
        try {
          return await lambda.invoke(constructId, input);
        } catch (error) {
          // The Lambda integration fails the task with the runtime's errorType, its error document as Cause.
          if (error instanceof LambdaFunctionError)
            throw Object.assign(new Error(error.causeDocument()), { name: error.errorType });
          throw error;
        }
      };
    const stateMachineRole = roleLogicalIdOf(
      template.Resources[stateMachineLogicalId]?.Properties?.['RoleArn'],
    );
    const campaignRole =
      workflow.campaign === undefined
        ? undefined
        : roleLogicalIdOf(template.Resources[workflow.campaign.logicalId]?.Properties?.['RoleArn']);
    const stepFunctions = await startLocalStepFunctions({
      workflow,
      handlers: Object.fromEntries(
        [
          ...(Object.keys(WORKFLOW_STEPS) as WorkflowStepId[]),
          ...(Object.keys(CAMPAIGN_STEPS) as CampaignStepId[]),
        ].map((id) => {
          const handler = invokeAsTask(`${id}Function`);
          return [`${id}Function`, options.wrapStepHandler?.(id, handler) ?? handler];
        }),
      ),
      ...(workflow.campaign === undefined || campaignRole === undefined
        ? {}
        : {
            additionalStateMachines: [
              {
                name: workflow.campaign.name,
                definition: workflow.campaign.definition,
                executionRoleAccessKeyId: identityOf(campaignRole, 'states-campaign').accessKeyId,
              },
            ],
          }),
      waitMs: options.waitMs === 'synthesized' ? undefined : (options.waitMs ?? 200),
      retryIntervalMs: options.retryIntervalMs ?? 50,
      retryIntervalMsByState: { Admit: options.poolSlotRetryMs ?? 500 },
      authorizer: iam,
      executionRoleAccessKeyId: identityOf(stateMachineRole, 'states').accessKeyId,
    });
    stopping.push(() => stepFunctions.stop());
    endpoints.sfn = stepFunctions.endpoint;

    // EventBridge's rules for ended executions, as synthesized: each rule's statuses decide which ends it
    // matches (the reaper's, the audit sealer's), its target which function gets the event.
    const reaping = new Set<Promise<unknown>>();
    const executionEnded = executionEndedRules(template);
    let closing = false;
    stepFunctions.onExecutionEnded((execution) => {
      // Executions aborted because the environment is stopping are not a fault to clean up after.
      if (closing) return;
      // The rules match the per-host machine's executions only (their stateMachineArn pattern).
      if (execution.stateMachineArn !== stepFunctions.stateMachineArn) return;
      for (const rule of executionEnded) {
        if (!rule.statuses.has(execution.status)) continue;
        const delivery = lambda
          .invoke(
            rule.targetConstructId,
            executionStatusChangeEvent(execution, stepFunctions.stateMachineArn),
          )
          .catch((error: unknown) => {
            process.stderr.write(
              `${rule.targetConstructId} for ${execution.name} failed: ${(error as Error).message}\n`,
            );
          })
          .finally(() => reaping.delete(delivery));
        reaping.add(delivery);
      }
    });
    stopping.push(async () => {
      closing = true;
      await Promise.all([...reaping]);
    });

    // EventBridge's rules for alarm state changes, as synthesized (the AlarmTrigger's: the prefix, ALARM).
    const patternRules = templatePatternRules(template, names);
    const alarmEvents: { event: AlarmStateChangeEvent; rules: string[] }[] = [];
    cloudWatch.onAlarmStateChange((event) => {
      const matched = closing ? [] : patternRules.filter((rule) => rule.matches(event));
      alarmEvents.push({ event, rules: matched.map((r) => r.ruleId) });
      for (const rule of matched) {
        const delivery = lambda
          .invoke(rule.targetConstructId, event)
          .catch((error: unknown) => {
            process.stderr.write(
              `${rule.targetConstructId} for alarm ${String(event.detail['alarmName'])} failed: ${(error as Error).message}\n`,
            );
          })
          .finally(() => reaping.delete(delivery));
        reaping.add(delivery);
      }
    });

    const operatorApiFunction = templateFunctions(template, names).find(
      (f) => f.constructId === 'OperatorApiFunction',
    );
    if (operatorApiFunction === undefined)
      throw new Error('the synthesized stack has no OperatorApiFunction');
    const operatorUrl = await startLocalFunctionUrlEndpoint({
      functionArn:
        names.get(operatorApiFunction.logicalId)?.arn ?? localFunctionArn(operatorApiFunction.logicalId),
      region: LOCAL_REGION,
      iam,
      resourcePolicy: functionResourcePolicy(template, operatorApiFunction.logicalId, names),
      invoke: (event) => lambda.invoke('OperatorApiFunction', event),
    });
    stopping.push(() => operatorUrl.close());
    const operator = iam.createUser(localOperatorUserName(), []);
    const operatorApi: LocalOperatorApi = {
      url: operatorUrl.url,
      operator,
      requests: () => operatorUrl.requests(),
      send: async (body, as = operator) => {
        const response = await signedPost(operatorUrl.url, JSON.stringify(body), as, LOCAL_REGION);
        const text = response.body;
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON: the caller sees the text.
        }
        return { status: response.status, body: parsed };
      },
    };

    const sfnClients: SFNClient[] = [];
    stopping.push(async () => sfnClients.forEach((c) => c.destroy()));
    return {
      dynamoDb,
      ssm,
      sns,
      kms,
      s3,
      cloudWatch,
      alarmEvents: () => alarmEvents,
      auditDigests: {
        bucketName: stackOutput(template, names, 'AuditDigestBucketName'),
        keyArn: stackOutput(template, names, 'AuditDigestKeyArn'),
        sealIntervalSeconds: Number(stackOutput(template, names, 'AuditSealIntervalSeconds')),
      },
      names,
      stepFunctions,
      workflow,
      dynamoDbRequests: dynamoDbFront,
      iam,
      lambda,
      tables,
      client,
      store: createDynamoDbStore(client, tables),
      documentNames: Object.fromEntries(Object.values(documents).map((d) => [d.document, d.name])),
      invokeTrigger: (trigger, event) => lambda.invoke(`${trigger}Function`, event),
      operatorApi,
      startAsOperator: async (request, as) => {
        const answer = await operatorApi.send({ action: 'start', ...request }, as);
        if (answer.status !== 200) throw new OperatorApiRefusal(answer.status, answer.body);
        return (answer.body as { result: TriggerResult }).result;
      },
      sfnClient: () => {
        const c = new SFNClient({
          endpoint: stepFunctions.endpoint,
          region: LOCAL_REGION,
          credentials: { accessKeyId: ADMIN_ACCESS_KEY_ID, secretAccessKey: 'local' },
        });
        sfnClients.push(c);
        return c;
      },
      eventDeliveriesSettled: async () => {
        await Promise.all([...reaping]);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What local mode named the resources it created itself: tables, documents, topic, state machine. */
function localNamesOf(
  template: Template,
  created: {
    tables: TableNames;
    documents: Record<string, LocalDocument>;
    topicArn: string;
    stateMachineLogicalId: string;
    campaignStateMachine?: { logicalId: string; name: string };
  },
): Record<string, LocalResourceName> {
  const arn = (service: string, resource: string) =>
    `arn:${LOCAL_PARTITION}:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;
  // The local Step Functions endpoint starts later; its one state machine will have this ARN.
  const stateMachineArn = localStateMachineArn();
  const campaign = created.campaignStateMachine;
  const campaignArn = campaign === undefined ? undefined : localStateMachineArn(campaign.name);
  const names: Record<string, LocalResourceName> = {
    [created.stateMachineLogicalId]: { ref: stateMachineArn, arn: stateMachineArn },
    ...(campaign === undefined || campaignArn === undefined
      ? {}
      : { [campaign.logicalId]: { ref: campaignArn, arn: campaignArn } }),
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::DynamoDB::GlobalTable') {
      const name = created.tables[tableIdOf(resource)];
      names[logicalId] = { ref: name, arn: arn('dynamodb', `table/${name}`) };
    }
    if (resource.Type === 'AWS::SNS::Topic')
      names[logicalId] = { ref: created.topicArn, arn: created.topicArn };
  }
  for (const [logicalId, d] of Object.entries(created.documents))
    names[logicalId] = { ref: d.name, arn: arn('ssm', `document/${d.name}`) };
  return names;
}

/** A stack output resolved to the local name, as `DescribeStacks` would give it for a deployment. */
function stackOutput(template: Template, names: ReadonlyMap<string, LocalResourceName>, key: string): string {
  const value = resolveTemplateValue(template.Outputs?.[key]?.Value, names);
  if (typeof value !== 'string' || value === '')
    throw new Error(`the synthesized stack has no output ${key}`);
  return value;
}

/** The policy document of the template's AWS::S3::BucketPolicy for this bucket, resolved to local ARNs. */
function bucketPolicyOf(
  template: Template,
  bucketId: string,
  names: ReadonlyMap<string, LocalResourceName>,
): PolicyDocument | undefined {
  const policyId = logicalIdsOfType(template, 'AWS::S3::BucketPolicy').find((id) => {
    const bucket = template.Resources[id]?.Properties?.['Bucket'] as { Ref?: string } | undefined;
    return bucket?.Ref === bucketId;
  });
  if (policyId === undefined) return undefined;
  return resolveTemplateValue(
    template.Resources[policyId]?.Properties?.['PolicyDocument'],
    names,
  ) as PolicyDocument;
}

function logicalIdsOfType(template: Template, type: string): string[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

/** `.../Tables/HostsTable/Resource` is the hosts table. */
function tableIdOf(resource: Template['Resources'][string]): TableId {
  const constructId = constructIdOf(resource) ?? '';
  const id = TABLE_IDS.find((t) => constructId.toLowerCase() === `${t}table`);
  if (id === undefined) throw new Error(`cannot tell which table ${constructId} is`);
  return id;
}

interface LocalDocument {
  readonly document: string;
  readonly name: string;
  readonly content: Record<string, unknown>;
}

/** The SSM documents the stack ships, named as CloudFormation would name them, with their content. */
function documentsOf(template: Template): Record<string, LocalDocument> {
  const documents: Record<string, LocalDocument> = {};
  for (const logicalId of logicalIdsOfType(template, 'AWS::SSM::Document')) {
    const resource = template.Resources[logicalId];
    const document = (constructIdOf(resource ?? {}) ?? logicalId).replace(/Document$/, '');
    documents[logicalId] = {
      document,
      name: `rejuv-${document}`,
      content: resource?.Properties?.['Content'] as Record<string, unknown>,
    };
  }
  return documents;
}

/**
 * The synthesized rules for ended executions (reaping, sealing the audit trail): the statuses each matches
 * and the function it targets, which EventBridge may invoke only if the function's resource policy lets
 * the rule do so.
 */
function executionEndedRules(template: Template): { statuses: Set<string>; targetConstructId: string }[] {
  const rules: { statuses: Set<string>; targetConstructId: string }[] = [];
  for (const [ruleId, resource] of Object.entries(template.Resources)) {
    const pattern = resource.Properties?.['EventPattern'] as
      { source?: string[]; detail?: { status?: string[] } } | undefined;
    if (resource.Type !== 'AWS::Events::Rule' || pattern?.source?.includes('aws.states') !== true) continue;
    const targetConstructId = permittedTarget(template, ruleId, resource);
    rules.push({ statuses: new Set(pattern.detail?.status ?? []), targetConstructId });
  }
  if (rules.length === 0) throw new Error('the synthesized stack has no rule for ended executions');
  return rules;
}

/** What EventBridge delivers for an execution's end ("Step Functions Execution Status Change"). */
function executionStatusChangeEvent(execution: LocalExecution, stateMachineArn: string): unknown {
  return {
    version: '0',
    id: `local-${execution.name}-${execution.status}`,
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: LOCAL_ACCOUNT,
    time: new Date(execution.stopDate ?? Date.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      stopDate: execution.stopDate ?? null,
      input: execution.input,
      output: execution.output ?? null,
    },
  };
}
