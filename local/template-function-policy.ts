/**
 * A function's resource-based policy as Lambda keeps it: one statement per AWS::Lambda::Permission of the
 * synthesized template that names the function, written the way AddPermission writes it (the principal,
 * and the permission's SourceArn, SourceAccount, PrincipalOrgID, FunctionUrlAuthType and
 * InvokedViaFunctionUrl as conditions). Local IAM evaluates it beside the caller's identity policies, as
 * Lambda does for an invocation through the function URL.
 */
import type { PolicyDocument } from './iam/local-iam.js';
import type { Template } from './step-functions/synthesized-workflow.js';
import { resolveTemplateValue, type LocalResourceName } from './template-values.js';

interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Principal: '*' | { readonly AWS: string } | { readonly Service: string };
  readonly Action: string;
  readonly Resource: string;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The resource policy of the function with this logical id, every value resolved to local names. */
export function functionResourcePolicy(
  template: Template,
  functionLogicalId: string,
  names: ReadonlyMap<string, LocalResourceName>,
): PolicyDocument {
  const fn = template.Resources[functionLogicalId];
  if (fn?.Type !== 'AWS::Lambda::Function')
    throw new Error(`${functionLogicalId} is not a function of the synthesized stack`);
  const functionArn = names.get(functionLogicalId)?.arn;
  if (functionArn === undefined) throw new Error(`no local name for ${functionLogicalId}`);
  const statements: PolicyStatement[] = [];
  for (const [permissionId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Permission') continue;
    const p = resource.Properties ?? {};
    if (!namesFunction(p['FunctionName'], functionLogicalId, functionArn, names)) continue;
    statements.push(statementOf(permissionId, p, functionArn, names));
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** CDK names the function by `Fn::GetAtt [Fn, Arn]` or `Ref Fn`; a resolved name or ARN counts too. */
function namesFunction(
  functionName: unknown,
  logicalId: string,
  functionArn: string,
  names: ReadonlyMap<string, LocalResourceName>,
): boolean {
  const resolved = resolveTemplateValue(functionName, names);
  return resolved === functionArn || resolved === names.get(logicalId)?.ref;
}

function statementOf(
  permissionId: string,
  p: Readonly<Record<string, unknown>>,
  functionArn: string,
  names: ReadonlyMap<string, LocalResourceName>,
): PolicyStatement {
  const value = (key: string): string | undefined => {
    const v = p[key];
    if (v === undefined) return undefined;
    const resolved = resolveTemplateValue(v, names);
    if (typeof resolved !== 'string' && typeof resolved !== 'boolean')
      throw new Error(`permission ${permissionId}: ${key} is ${JSON.stringify(v)}, not a string`);
    return String(resolved);
  };
  const action = value('Action');
  const principal = value('Principal');
  if (action === undefined || principal === undefined)
    throw new Error(`permission ${permissionId} has no Action or Principal`);
  const condition: Record<string, Record<string, string>> = {};
  const add = (operator: string, key: string, v: string | undefined): void => {
    if (v !== undefined) condition[operator] = { ...condition[operator], [key]: v };
  };
  add('ArnLike', 'AWS:SourceArn', value('SourceArn'));
  add('StringEquals', 'AWS:SourceAccount', value('SourceAccount'));
  add('StringEquals', 'aws:PrincipalOrgID', value('PrincipalOrgID'));
  add('StringEquals', 'lambda:EventSourceToken', value('EventSourceToken'));
  add('StringEquals', 'lambda:FunctionUrlAuthType', value('FunctionUrlAuthType'));
  // AddPermission writes the flag only when it is set.
  if (value('InvokedViaFunctionUrl') === 'true') add('Bool', 'lambda:InvokedViaFunctionUrl', 'true');
  return {
    Sid: permissionId,
    Effect: 'Allow',
    Principal: principalOf(principal),
    Action: action,
    Resource: functionArn,
    ...(Object.keys(condition).length === 0 ? {} : { Condition: condition }),
  };
}

/** AddPermission's Principal: `*`, a service, an account id (its root), or an IAM ARN. */
function principalOf(principal: string): PolicyStatement['Principal'] {
  if (principal === '*') return '*';
  if (principal.endsWith('.amazonaws.com')) return { Service: principal };
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:aws:iam::${principal}:root` };
  if (principal.startsWith('arn:')) return { AWS: principal };
  throw new Error(`cannot tell what principal ${JSON.stringify(principal)} is`);
}
