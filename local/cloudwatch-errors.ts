/** The errors the local CloudWatch answers bad requests with, named and coded as CloudWatch's own. */
import { AwsServiceError } from './json-protocol/aws-json-server.js';

export type Body = Readonly<Record<string, unknown>>;
export const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

export const invalid = (message: string) =>
  new AwsServiceError('InvalidParameterValueException', message, {
    code: 'InvalidParameterValue',
    status: 400,
  });

export const missing = (parameter: string) =>
  new AwsServiceError('MissingRequiredParameterException', `The parameter ${parameter} is required.`, {
    code: 'MissingParameter',
    status: 400,
  });
