/**
 * cdk-nag's AwsSolutions checks. Errors make synthesis fail, so an unacknowledged finding cannot ship;
 * the stack acknowledges each remaining finding of the coordinator, with its reason
 * (nag-acknowledgements.ts, which needs nothing of cdk-nag: it is a devDependency, imported here only).
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
