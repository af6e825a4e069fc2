/**
 * Prop validation as aws-cdk's own constructs do it: a `ValidationError` scoped to the construct that
 * refused the value (the CLI shows its path), with the value in the message, and no judgement of a value
 * that is still a token (a parameter, an attribute): it is known at deploy time only.
 */
import { Token, ValidationError, type Duration } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** aws-cdk types the error name as a literal string (its brand is private): each name here is one. */
type ErrorName = ConstructorParameters<typeof ValidationError>[0];

/** The error to throw for a prop that would not deploy, or would deploy and misbehave. */
export function invalidProp(scope: IConstruct, name: string, message: string): ValidationError {
  return new ValidationError(name as ErrorName, message, scope);
}

/** Throws unless `n` is an integer within [min, max]; a token passes. */
export function checkInteger(scope: IConstruct, what: string, n: number, min: number, max: number): number {
  if (!Token.isUnresolved(n) && (!Number.isInteger(n) || n < min || n > max))
    throw invalidProp(
      scope,
      'IntegerOutOfRange',
      `${what} must be an integer from ${min} to ${max}, got ${n}`,
    );
  return n;
}

/** Whether a duration is known at synth time (one built from a token is not). */
export function isResolved(...durations: readonly Duration[]): boolean {
  return durations.every((d) => !d.isUnresolved());
}
