/**
 * The identities the synthesized template declares: every role with the policies attached to it (its
 * inline policies and the AWS::IAM::Policy resources naming it), and which role each function and the
 * state machine run as. Local IAM grants each of them exactly these policies.
 */
import type { PolicyDocument } from './iam/local-iam.js';
import { constructIdOf, type Template } from './step-functions/synthesized-workflow.js';
import { resolveTemplateString, resolveTemplateValue, type LocalResourceName } from './template-values.js';

export interface TemplateFunction {
  readonly logicalId: string;
  /** E.g. `AdmitFunction`. */
  readonly constructId: string;
  readonly handler: string;
  /** The Lambda runtime, e.g. `nodejs24.x`. */
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly roleLogicalId: string;
}

/** Each role's policy documents, by the role's logical id, with every value resolved locally. */
export function rolePolicies(
  template: Template,
  names: ReadonlyMap<string, LocalResourceName>,
): Map<string, PolicyDocument[]> {
  const policies = new Map<string, PolicyDocument[]>();
  const attach = (roleId: string, document: unknown): void => {
    const list = policies.get(roleId) ?? [];
    list.push(resolveTemplateValue(document, names) as PolicyDocument);
    policies.set(roleId, list);
  };
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::IAM::Role') {
      if (resource.Properties?.['ManagedPolicyArns'] !== undefined)
        throw new Error(`role ${id} has managed policies, which local IAM does not know`);
      policies.set(id, policies.get(id) ?? []);
      const inline = (resource.Properties?.['Policies'] ?? []) as { PolicyDocument: unknown }[];
      for (const p of inline) attach(id, p.PolicyDocument);
    }
  }
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.['Roles'] ?? []) as { Ref?: string }[];
    for (const role of roles) {
      if (role.Ref === undefined) throw new Error('a policy names a role other than by Ref');
      attach(role.Ref, resource.Properties?.['PolicyDocument']);
    }
  }
  return policies;
}

/** The logical id of the role a `Fn::GetAtt [Role, Arn]` names. */
export function roleLogicalIdOf(roleArn: unknown): string {
  const getAtt = (roleArn as { 'Fn::GetAtt'?: unknown[] } | undefined)?.['Fn::GetAtt'];
  if (!Array.isArray(getAtt) || getAtt[1] !== 'Arn')
    throw new Error(`cannot tell which role ${JSON.stringify(roleArn)} is`);
  return String(getAtt[0]);
}

export function templateFunctions(
  template: Template,
  names: ReadonlyMap<string, LocalResourceName>,
): TemplateFunction[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]) => {
      const p = resource.Properties ?? {};
      const constructId = constructIdOf(resource);
      if (constructId === undefined) throw new Error(`function ${logicalId} has no construct path`);
      const variables = ((p['Environment'] as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {}) as Record<string, unknown>;
      return {
        logicalId,
        constructId,
        handler: String(p['Handler']),
        runtime: String(p['Runtime']),
        // CloudFormation's defaults when a function does not say.
        timeoutSeconds: Number(p['Timeout'] ?? 3),
        memoryMiB: Number(p['MemorySize'] ?? 128),
        environment: Object.fromEntries(
          Object.entries(variables).map(([k, v]) => [k, resolveTemplateString(v, names)]),
        ),
        roleLogicalId: roleLogicalIdOf(p['Role']),
      };
    });
}
