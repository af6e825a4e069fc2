/**
 * The synthesized EventBridge rules that match events by pattern, each with the function it targets, as
 * local mode delivers events to them: a rule may invoke its function only when the template grants
 * EventBridge that (an AWS::Lambda::Permission for events.amazonaws.com naming the rule).
 */
import { matchesEventPattern } from './event-pattern.js';
import { constructIdOf, type Template } from './step-functions/synthesized-workflow.js';
import { resolveTemplateValue, type LocalResourceName } from './template-values.js';

export interface PatternRule {
  readonly ruleId: string;
  readonly targetConstructId: string;
  /** Whether the rule takes this event (any JSON object, as EventBridge receives it). */
  matches(event: object): boolean;
}

export function templatePatternRules(
  template: Template,
  names: ReadonlyMap<string, LocalResourceName>,
): PatternRule[] {
  const rules: PatternRule[] = [];
  for (const [ruleId, resource] of Object.entries(template.Resources)) {
    const raw = resource.Properties?.['EventPattern'];
    if (resource.Type !== 'AWS::Events::Rule' || raw === undefined) continue;
    const pattern = resolveTemplateValue(raw, names) as Readonly<Record<string, unknown>>;
    const targetConstructId = permittedTarget(template, ruleId, resource);
    rules.push({
      ruleId,
      targetConstructId,
      matches: (event) => matchesEventPattern(pattern, event as Readonly<Record<string, unknown>>),
    });
  }
  return rules;
}

/**
 * The construct id of the function a rule targets, once the template grants EventBridge the right to
 * invoke it for that rule (an AWS::Lambda::Permission for events.amazonaws.com naming the rule): a rule
 * whose target could not be invoked in AWS fails here, before any event is delivered.
 */
export function permittedTarget(
  template: Template,
  ruleId: string,
  resource: { Properties?: Record<string, unknown> },
): string {
  const targets = (resource.Properties?.['Targets'] ?? []) as { Arn?: unknown }[];
  const functionId = (targets[0]?.Arn as { 'Fn::GetAtt'?: unknown[] } | undefined)?.['Fn::GetAtt']?.[0];
  const target = typeof functionId === 'string' ? template.Resources[functionId] : undefined;
  const targetConstructId = target === undefined ? undefined : constructIdOf(target);
  if (targetConstructId === undefined) throw new Error(`rule ${ruleId} targets no function of the stack`);
  const permitted = Object.values(template.Resources).some(
    (r) =>
      r.Type === 'AWS::Lambda::Permission' &&
      r.Properties?.['Principal'] === 'events.amazonaws.com' &&
      JSON.stringify(r.Properties['FunctionName']).includes(`"${String(functionId)}"`) &&
      JSON.stringify(r.Properties['SourceArn']).includes(`"${ruleId}"`),
  );
  if (!permitted)
    throw new Error(`rule ${ruleId} may not invoke ${targetConstructId}: no Lambda permission for it`);
  return targetConstructId;
}
