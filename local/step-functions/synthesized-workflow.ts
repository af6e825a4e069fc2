/**
 * The state machine exactly as `cdk synth` writes it, made runnable locally: synthesize the stack
 * (without bundling the functions, which local mode does not need), take the state machine's
 * definition, and resolve its few CloudFormation tokens to fixed local values.
 */
import { App } from 'aws-cdk-lib';
import { RejuvStack } from '../../cdk/rejuv-stack.js';
import type { RejuvenationCoordinatorProps } from '../../cdk/rejuvenation-coordinator.js';
import { cachedTemplate } from '../template-cache.js';

export const LOCAL_PARTITION = 'aws';
export const LOCAL_REGION = 'local';
export const LOCAL_ACCOUNT = '000000000000';

export type Template = {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
  Outputs?: Record<string, { Value: unknown }>;
};

export interface SynthesizedWorkflow {
  /** The Amazon States Language definition with every token resolved. */
  readonly definition: Record<string, unknown>;
  /** Local ARN of each Lambda function → the construct id it was created with (e.g. `AdmitFunction`). */
  readonly functionsByArn: ReadonlyMap<string, string>;
  readonly template: Template;
  /** The per-host state machine's logical id. */
  readonly logicalId?: string;
  /** The campaign state machine, which starts the per-host one as child executions. */
  readonly campaign?: {
    readonly logicalId: string;
    /** The name the template gives it: its definition starts itself by that name to continue as new. */
    readonly name: string;
    readonly definition: Record<string, unknown>;
  };
}

/** The local names of the two machines: the per-host workflow's, and the campaign's when unnamed. */
export const LOCAL_STATE_MACHINE_NAME = 'rejuv';
export const LOCAL_CAMPAIGN_STATE_MACHINE_NAME = 'rejuv-campaign';

export function localFunctionArn(logicalId: string): string {
  return `arn:${LOCAL_PARTITION}:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

/** The template for these props; one synth per state of the sources and props (template-cache.ts). */
export function synthesizeTemplate(props: RejuvenationCoordinatorProps = {}): Template {
  return cachedTemplate(props, () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true } });
    const stack = new RejuvStack(app, 'Rejuv', { coordinator: props });
    return app.synth().getStackByName(stack.stackName).template as Template;
  });
}

export function synthesizedWorkflow(props: RejuvenationCoordinatorProps = {}): SynthesizedWorkflow {
  return workflowFromTemplate(synthesizeTemplate(props));
}

export function workflowFromTemplate(template: Template): SynthesizedWorkflow {
  const machines = Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  const byConstruct = (id: string) => machines.find(([, r]) => constructIdOf(r) === id);
  const host = byConstruct('StateMachine') ?? (machines.length === 1 ? machines[0] : undefined);
  if (host === undefined)
    throw new Error(`expected the per-host state machine in the template, found ${machines.length} machines`);
  const definition = JSON.parse(
    resolveTokens(host[1].Properties?.['DefinitionString'], template, {}),
  ) as Record<string, unknown>;
  const campaignMachine = byConstruct('CampaignStateMachine');
  const campaign =
    campaignMachine === undefined
      ? undefined
      : {
          logicalId: campaignMachine[0],
          name: stateMachineNameOf(campaignMachine[1]) ?? LOCAL_CAMPAIGN_STATE_MACHINE_NAME,
          definition: JSON.parse(
            resolveTokens(campaignMachine[1].Properties?.['DefinitionString'], template, {
              [host[0]]: `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${LOCAL_STATE_MACHINE_NAME}`,
            }),
          ) as Record<string, unknown>,
        };
  const functionsByArn = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const constructId = constructIdOf(resource);
    if (constructId !== undefined) functionsByArn.set(localFunctionArn(logicalId), constructId);
  }
  return {
    definition,
    functionsByArn,
    template,
    logicalId: host[0],
    ...(campaign === undefined ? {} : { campaign }),
  };
}

function stateMachineNameOf(resource: { Properties?: Record<string, unknown> }): string | undefined {
  const name = resource.Properties?.['StateMachineName'];
  return typeof name === 'string' ? name : undefined;
}

/**
 * The id a resource's construct was created with: `.../AdmitFunction/Resource` (an L2's resource) gives
 * `AdmitFunction`, `.../PreflightDocument` (an L1) gives `PreflightDocument`.
 */
export function constructIdOf(resource: { Metadata?: Record<string, unknown> }): string | undefined {
  const parts = String(resource.Metadata?.['aws:cdk:path'] ?? '').split('/');
  const last = parts.at(-1);
  return last === 'Resource' ? parts.at(-2) : last === '' ? undefined : last;
}

/**
 * Resolves the intrinsic functions CDK writes into definitions and environments: Fn::Join, pseudo
 * parameters, Fn::GetAtt of a function's Arn, and Ref of a resource, which `refs` maps to its local
 * name (a resource Ref not in `refs` resolves to its logical id).
 */
export function resolveTokens(
  value: unknown,
  template: Template,
  refs: Readonly<Record<string, string>>,
): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const [fn, args] = Object.entries(value)[0] ?? [];
    if (fn === 'Fn::Join' && Array.isArray(args)) {
      const [separator, parts] = args as [string, unknown[]];
      return parts.map((p) => resolveTokens(p, template, refs)).join(separator);
    }
    if (fn === 'Ref' && typeof args === 'string') {
      if (args === 'AWS::Partition') return LOCAL_PARTITION;
      if (args === 'AWS::Region') return LOCAL_REGION;
      if (args === 'AWS::AccountId') return LOCAL_ACCOUNT;
      if (args === 'AWS::URLSuffix') return 'amazonaws.com';
      if (refs[args] !== undefined) return refs[args];
      if (template.Resources[args] !== undefined) return args;
    }
    if (fn === 'Fn::GetAtt' && Array.isArray(args) && args[1] === 'Arn') {
      const logicalId = String(args[0]);
      if (template.Resources[logicalId]?.Type === 'AWS::Lambda::Function') return localFunctionArn(logicalId);
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)} locally`);
}
