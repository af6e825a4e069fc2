/**
 * SendCommand's parameter checks, done the way SSM does them before a command is ever delivered:
 * unknown and missing parameters, types, allowedValues, allowedPattern and length limits, defaults.
 */
import type { CommandDocument, DocumentParameter } from './command-document.js';
import { DocumentParameterError, UnsupportedDocumentError } from './errors.js';

/** As SendCommand takes them: each value a list, or (for convenience) a single string. */
export type SuppliedParameters = Readonly<Record<string, string | readonly string[]>>;

const SCALAR_TYPES = new Set(['String', 'Integer', 'Boolean']);

function scalarValue(name: string, value: string | readonly string[], issues: string[]): string | undefined {
  if (typeof value === 'string') return value;
  if (value.length === 1 && typeof value[0] === 'string') return value[0];
  issues.push(`${name}: expects exactly one value, got ${value.length}`);
  return undefined;
}

function compilePattern(documentName: string, name: string, pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new UnsupportedDocumentError(
      documentName,
      `parameter ${name} has an invalid allowedPattern: ${String(error)}`,
    );
  }
}

function valueProblem(
  documentName: string,
  name: string,
  declared: DocumentParameter,
  value: string,
): string | undefined {
  if (declared.type === 'Integer' && !/^-?[0-9]+$/.test(value))
    return `${name}: ${JSON.stringify(value)} is not an Integer`;
  if (declared.type === 'Boolean' && value !== 'true' && value !== 'false')
    return `${name}: ${JSON.stringify(value)} is not a Boolean`;
  if (declared.allowedValues !== undefined && !declared.allowedValues.includes(value))
    return `${name}: ${JSON.stringify(value)} is not one of ${declared.allowedValues.join(', ')}`;
  if (
    declared.allowedPattern !== undefined &&
    !compilePattern(documentName, name, declared.allowedPattern).test(value)
  )
    return `${name}: ${JSON.stringify(value)} does not match allowedPattern ${declared.allowedPattern}`;
  if (declared.minChars !== undefined && value.length < declared.minChars)
    return `${name}: shorter than ${declared.minChars} characters`;
  if (declared.maxChars !== undefined && value.length > declared.maxChars)
    return `${name}: longer than ${declared.maxChars} characters`;
  return undefined;
}

/**
 * Every declared parameter's final value (supplied or default), or DocumentParameterError naming each
 * problem. Throws UnsupportedDocumentError for parameter types the runner cannot substitute.
 */
export function resolveParameters(
  documentName: string,
  document: CommandDocument,
  supplied: SuppliedParameters,
): Record<string, string> {
  const issues: string[] = [];
  const resolved: Record<string, string> = {};
  for (const name of Object.keys(supplied)) {
    if (!Object.hasOwn(document.parameters, name)) issues.push(`${name}: unknown parameter`);
  }
  for (const [name, declared] of Object.entries(document.parameters)) {
    if (!SCALAR_TYPES.has(declared.type))
      throw new UnsupportedDocumentError(documentName, `parameter ${name} has type ${declared.type}`);
    const given = supplied[name];
    if (given === undefined) {
      if (declared.default === undefined) {
        issues.push(`${name}: required parameter is missing`);
        continue;
      }
      const fallback = String(declared.default);
      const problem = valueProblem(documentName, name, declared, fallback);
      if (problem !== undefined) throw new UnsupportedDocumentError(documentName, `default of ${problem}`);
      resolved[name] = fallback;
      continue;
    }
    const value = scalarValue(name, given, issues);
    if (value === undefined) continue;
    const problem = valueProblem(documentName, name, declared, value);
    if (problem === undefined) resolved[name] = value;
    else issues.push(problem);
  }
  if (issues.length > 0) throw new DocumentParameterError(documentName, issues);
  return resolved;
}
