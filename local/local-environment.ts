/**
 * Local mode: the whole coordinator on this machine, through the same code paths as in AWS. One call
 * starts DynamoDB Local, local SSM, SNS and Step Functions endpoints, creates the tables and documents
 * the synthesized stack declares, and binds the real Lambda handlers to the synthesized state machine.
 * The handlers build their real SDK clients from `REJUV_CONFIG` (the construct's own value, resolved to
 * local names) and reach the local endpoints through the SDK's AWS_ENDPOINT_URL_* variables.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RejuvenationCoordinatorProps } from '../cdk/rejuvenation-coordinator.js';
import { forgetWorkflowDeps } from '../lambdas/runtime/aws-deps.js';
import { logger } from '../lambdas/runtime/observability.js';
import { forgetRuntimeConfig, RUNTIME_CONFIG_ENV } from '../lambdas/runtime/runtime-config.js';
import { forgetTriggerDeps } from '../lambdas/runtime/trigger-deps.js';
import type { TRIGGERS } from '../lambdas/step-catalog.js';
import { createTables } from '../shared/adapters/dynamodb/create-tables.js';
import { createDynamoDbStore, type Store } from '../shared/adapters/dynamodb/dynamodb-store.js';
import {
  TABLE_IDS,
  tableNamesFor,
  type TableId,
  type TableNames,
} from '../shared/store/table-definitions.js';
import { STEP_HANDLERS, TRIGGER_HANDLERS } from './lambda-handlers.js';
import { startRequestCounter, type RunningRequestCounter } from './request-counter.js';
import { localDynamoDbClient, startDynamoDbLocal, type RunningDynamoDbLocal } from './dynamodb-local.js';
import { startLocalSnsEndpoint, type RunningLocalSns } from './sns-endpoint.js';
import { startLocalSsmEndpoint, type RunningLocalSsm } from './ssm-endpoint/ssm-endpoint.js';
import {
  startLocalStepFunctions,
  type LocalExecution,
  type LocalHandler,
  type RunningLocalStepFunctions,
} from './step-functions/local-step-functions.js';
import {
  constructIdOf,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  resolveTokens,
  synthesizeTemplate,
  workflowFromTemplate,
  type SynthesizedWorkflow,
  type Template,
} from './step-functions/synthesized-workflow.js';

export interface LocalEnvironmentOptions {
  /** Props of the coordinator, as a deployment would set them. */
  readonly coordinator?: RejuvenationCoordinatorProps;
  /** Pause of every Wait state; the deployed poll interval is for real hosts. */
  readonly waitMs?: number;
  /** Pause before every retry. */
  readonly retryIntervalMs?: number;
  /** Pause before Admit asks again for a pool slot; with its attempts, how long a host waits for one. */
  readonly poolSlotRetryMs?: number;
  /** Prefix of the local table names. */
  readonly tablePrefix?: string;
  /**
   * Route the handlers' DynamoDB traffic through a pass-through that counts it (what a run costs) and
   * can fail or delay it (fault tests): `dynamoDbRequests`.
   */
  readonly countDynamoDbRequests?: boolean;
  /** Keep DynamoDB Local's tables on disk here, so `dynamoDb.restart()` is a real outage. */
  readonly dynamoDbPath?: string;
  /**
   * Wraps each step function's handler, as the Lambda runtime around it: where fault tests make an
   * invocation crash after its handler returned, or stall before it starts.
   */
  readonly wrapStepHandler?: (stepId: string, handler: LocalHandler) => LocalHandler;
}

export interface LocalEnvironment {
  readonly dynamoDb: RunningDynamoDbLocal;
  readonly ssm: RunningLocalSsm;
  readonly sns: RunningLocalSns;
  readonly stepFunctions: RunningLocalStepFunctions;
  /** The state machine as synthesized, with its functions. */
  readonly workflow: SynthesizedWorkflow;
  /** Present when `countDynamoDbRequests` was asked for. */
  readonly dynamoDbRequests?: RunningRequestCounter;
  readonly tables: TableNames;
  readonly store: Store;
  readonly client: DynamoDBClient;
  /** The deployed document name of each host document (e.g. Preflight). */
  readonly documentNames: Readonly<Record<string, string>>;
  /** Invokes a trigger function's real handler, as EventBridge or an operator would. */
  invokeTrigger(trigger: keyof typeof TRIGGERS, event: unknown): Promise<unknown>;
  /** A Step Functions client pointed at the local endpoint. */
  sfnClient(): SFNClient;
  stop(): Promise<void>;
}

const LOCAL_ENV_KEYS = [
  RUNTIME_CONFIG_ENV,
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_SSM',
  'AWS_ENDPOINT_URL_SNS',
  'AWS_ENDPOINT_URL_SFN',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'POWERTOOLS_METRICS_DISABLED',
  'POWERTOOLS_TRACE_ENABLED',
  'POWERTOOLS_LOG_LEVEL',
  'REJUV_ALARM_HOST_DIMENSION',
  'REJUV_ALARM_NAME_PREFIX',
  'REJUV_ALARM_RELOAD_LEVEL',
] as const;

export async function startLocalEnvironment(
  options: LocalEnvironmentOptions = {},
): Promise<LocalEnvironment> {
  const template = synthesizeTemplate(options.coordinator);
  const workflow = workflowFromTemplate(template);
  const stopping: (() => Promise<void>)[] = [];
  const savedEnv = Object.fromEntries(LOCAL_ENV_KEYS.map((k) => [k, process.env[k]]));
  stopping.push(async () => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
    forgetLocalCaches();
  });
  const stop = async (): Promise<void> => {
    for (const step of stopping.reverse()) await step().catch(() => undefined);
  };

  try {
    const dynamoDb = await startDynamoDbLocal(
      options.dynamoDbPath === undefined ? {} : { dbPath: options.dynamoDbPath },
    );
    stopping.push(() => dynamoDb.stop());
    const client = localDynamoDbClient(dynamoDb.endpoint);
    stopping.push(async () => client.destroy());
    const tables = tableNamesFor(options.tablePrefix ?? 'rejuv-local');
    await createTables(client, tables);

    const counter =
      options.countDynamoDbRequests === true ? await startRequestCounter(dynamoDb.endpoint) : undefined;
    if (counter !== undefined) stopping.push(() => counter.stop());

    const sns = await startLocalSnsEndpoint({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
    stopping.push(() => sns.stop());
    const topicLogicalId = logicalIdsOfType(template, 'AWS::SNS::Topic')[0];
    if (topicLogicalId === undefined) throw new Error('the synthesized stack has no notification topic');
    const topicArn = sns.createTopic(`rejuv-${topicLogicalId}`);

    const documents = documentsOf(template);
    const ssm = await startLocalSsmEndpoint({
      documents: Object.fromEntries(Object.values(documents).map((d) => [d.name, d.content])),
    });
    stopping.push(() => ssm.stop());

    const stepFunctions = await startLocalStepFunctions({
      workflow,
      handlers: Object.fromEntries(
        Object.entries(STEP_HANDLERS).map(([id, h]) => [
          `${id}Function`,
          options.wrapStepHandler?.(id, h) ?? h,
        ]),
      ),
      waitMs: options.waitMs ?? 200,
      retryIntervalMs: options.retryIntervalMs ?? 50,
      retryIntervalMsByState: { Admit: options.poolSlotRetryMs ?? 500 },
    });
    stopping.push(() => stepFunctions.stop());

    // EventBridge's rule for ended executions, as synthesized: its statuses decide which ends are reaped.
    const reaping = new Set<Promise<unknown>>();
    const reapedStatuses = executionEndedStatuses(template);
    let closing = false;
    stepFunctions.onExecutionEnded((execution) => {
      // Executions aborted because the environment is stopping are not a fault to clean up after.
      if (closing || !reapedStatuses.has(execution.status)) return;
      const delivery = STEP_HANDLERS.Reap(
        executionStatusChangeEvent(execution, stepFunctions.stateMachineArn),
      )
        .catch((error: unknown) =>
          logger.error('reaping an ended execution failed', { error: error as Error }),
        )
        .finally(() => reaping.delete(delivery));
      reaping.add(delivery);
    });
    stopping.push(async () => {
      closing = true;
      await Promise.all([...reaping]);
    });

    const refs: Record<string, string> = { [topicLogicalId]: topicArn };
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type === 'AWS::DynamoDB::GlobalTable') refs[logicalId] = tables[tableIdOf(resource)];
      if (resource.Type === 'AWS::StepFunctions::StateMachine')
        refs[logicalId] = stepFunctions.stateMachineArn;
    }
    for (const [logicalId, d] of Object.entries(documents)) refs[logicalId] = d.name;
    const triggerEnv = triggerEnvironment(template);
    Object.assign(process.env, {
      [RUNTIME_CONFIG_ENV]: resolveTokens(triggerEnv[RUNTIME_CONFIG_ENV], template, refs),
      REJUV_ALARM_HOST_DIMENSION: String(triggerEnv['REJUV_ALARM_HOST_DIMENSION']),
      REJUV_ALARM_NAME_PREFIX: String(triggerEnv['REJUV_ALARM_NAME_PREFIX']),
      REJUV_ALARM_RELOAD_LEVEL: String(triggerEnv['REJUV_ALARM_RELOAD_LEVEL']),
      AWS_ENDPOINT_URL_DYNAMODB: counter?.endpoint ?? dynamoDb.endpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_SFN: stepFunctions.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'ERROR',
    });
    forgetLocalCaches();
    // The handlers' logger was created at import, before this environment existed.
    logger.setLogLevel(process.env['POWERTOOLS_LOG_LEVEL'] as never);

    const sfnClients: SFNClient[] = [];
    stopping.push(async () => sfnClients.forEach((c) => c.destroy()));
    return {
      dynamoDb,
      ssm,
      sns,
      stepFunctions,
      workflow,
      ...(counter === undefined ? {} : { dynamoDbRequests: counter }),
      tables,
      client,
      store: createDynamoDbStore(client, tables),
      documentNames: Object.fromEntries(Object.values(documents).map((d) => [d.document, d.name])),
      invokeTrigger: (trigger, event) => TRIGGER_HANDLERS[trigger](JSON.parse(JSON.stringify(event))),
      sfnClient: () => {
        const c = new SFNClient({
          endpoint: stepFunctions.endpoint,
          region: LOCAL_REGION,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        });
        sfnClients.push(c);
        return c;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function forgetLocalCaches(): void {
  forgetRuntimeConfig();
  forgetWorkflowDeps();
  forgetTriggerDeps();
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

function triggerEnvironment(template: Template): Record<string, unknown> {
  const trigger = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && constructIdOf(r) === 'AlarmTriggerFunction',
  );
  const variables = (
    trigger?.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined
  )?.Variables;
  if (variables === undefined) throw new Error('the synthesized alarm trigger has no environment');
  return variables;
}

/** The statuses the synthesized rule for ended executions matches. */
function executionEndedStatuses(template: Template): Set<string> {
  for (const resource of Object.values(template.Resources)) {
    const pattern = resource.Properties?.['EventPattern'] as
      { source?: string[]; detail?: { status?: string[] } } | undefined;
    if (resource.Type === 'AWS::Events::Rule' && pattern?.source?.includes('aws.states'))
      return new Set(pattern.detail?.status ?? []);
  }
  throw new Error('the synthesized stack has no rule for ended executions');
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
