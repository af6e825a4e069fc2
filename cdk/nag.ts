/**
 * cdk-nag's AwsSolutions checks. Errors make synthesis fail, so an unacknowledged finding cannot ship;
 * the construct acknowledges each remaining finding where the permission is granted, with its reason.
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/** A specific finding (rule id with its finding, e.g. `AwsSolutions-IAM5[Resource::*]`) and why it stays. */
export interface Acknowledgement {
  readonly finding: string;
  readonly reason: string;
}

/** Acknowledges findings on a scope, all in one call: a later call on the same scope replaces an earlier one. */
export function acknowledgeFindings(scope: IConstruct, acknowledgements: readonly Acknowledgement[]): void {
  Validations.of(scope).acknowledge(
    ...acknowledgements.map((a) => ({ id: `AwsSolutions::${a.finding}`, reason: a.reason })),
  );
}
