/**
 * SSM's `{{ name }}` substitution: plain text replacement of a parameter's value into the document,
 * with no quoting of any kind. That is why every parameter needs an allowedPattern, and why the
 * documents put each reference inside single quotes.
 */
import { UnsupportedDocumentError } from './errors.js';

const REFERENCE = /\{\{\s*([^{}\s]+)\s*\}\}/g;

export function substituteParameters(
  documentName: string,
  text: string,
  values: Readonly<Record<string, string>>,
): string {
  return text.replace(REFERENCE, (_whole, name: string) => {
    if (name.startsWith('ssm:') || name.startsWith('ssm-secure:'))
      throw new UnsupportedDocumentError(
        documentName,
        `Parameter Store reference {{${name}}} is not emulated`,
      );
    const value = values[name];
    if (value === undefined)
      throw new UnsupportedDocumentError(documentName, `{{${name}}} references an undeclared parameter`);
    return value;
  });
}
