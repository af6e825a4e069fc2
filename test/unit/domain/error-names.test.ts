/**
 * Error names are the state machine's contract. Each class states its name as a literal (a minifier
 * renames classes); these prove each literal is the class's own name, so the source, the bundles and the
 * Retry/Catch clauses all say the same thing. test/unit/cdk/bundled-error-names.test.ts checks the bundles.
 */
import { describe, expect, it } from 'vitest';
import { RejuvError } from '../../../shared/domain/errors.js';
import { ERROR_EXAMPLES, ERROR_MODULES, errorClassesOf, exampleOf } from '../../support/error-examples.js';

const classes = Object.entries(ERROR_MODULES).flatMap(([path, module]) =>
  errorClassesOf(module).map(([exportName, errorClass]) => ({ path, exportName, errorClass })),
);

describe('Errors: names', () => {
  it('finds the error classes of every error module', () => {
    expect(classes.length).toBeGreaterThan(30);
    for (const [path, module] of Object.entries(ERROR_MODULES))
      expect(errorClassesOf(module).length, path).toBeGreaterThan(0);
  });

  it.each(classes)(
    '$exportName (in $path) is named with its own class name',
    ({ exportName, errorClass }) => {
      const error = exampleOf(exportName, errorClass);
      expect(errorClass.name).toBe(exportName);
      expect(error.name).toBe(exportName);
      // An own property set by the class, not something read off the prototype or the constructor.
      expect(Object.getOwnPropertyDescriptor(error, 'name')?.value).toBe(exportName);
      expect(String(error)).toBe(`${exportName}: ${error.message}`);
    },
  );

  it.each(classes)(
    '$exportName keeps its name in a subclass: a literal, not read from the class',
    ({ exportName, errorClass }) => {
      // `new.target.name` would name it Subclass here, and a minifier's one-letter name in AWS.
      const Subclass = class extends errorClass {};
      expect(new Subclass(...(ERROR_EXAMPLES[exportName] ?? [])).name).toBe(exportName);
    },
  );

  it('gives every RejuvError a name that is not one of its ancestors’', () => {
    for (const { exportName, errorClass } of classes) {
      const error = exampleOf(exportName, errorClass);
      if (!(error instanceof RejuvError)) continue;
      expect(error.name, exportName).not.toMatch(/^(Error|RejuvError)$/);
    }
  });

  it('keeps the message and the cause', () => {
    const cause = new Error('Rate exceeded');
    const error = exampleOf('SsmUnavailableError', errorClassOf('SsmUnavailableError'));
    expect(error.message).toBe('SSM did not answer SendCommand (ThrottlingException): Rate exceeded');
    const withCause = new (errorClassOf('TransientError'))('ThrottlingException: Rate exceeded', { cause });
    expect(withCause).toMatchObject({ name: 'TransientError', retryable: true, cause });
  });
});

function errorClassOf(exportName: string) {
  const found = classes.find((c) => c.exportName === exportName);
  if (found === undefined) throw new Error(`no error class ${exportName}`);
  return found.errorClass;
}
