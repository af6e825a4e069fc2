/**
 * `npm run synth` / `cdk deploy` entry: the RejuvStack with the settings from the context
 * (`-c rejuv:config=FILE`, `-c rejuv:<setting>=VALUE`; see read-app-settings.ts) and cdk-nag's
 * AwsSolutions checks.
 */
import { App, Errors } from 'aws-cdk-lib';
import { ValidationError } from '../shared/domain/errors.js';
import { toStackProps } from './app-settings.js';
import { addNagChecks } from './nag.js';
import { readAppSettings } from './read-app-settings.js';
import { RejuvStack } from './rejuv-stack.js';

const app = new App();
try {
  const settings = readAppSettings(app.node.getAllContext() as Record<string, unknown>);
  new RejuvStack(app, 'Rejuv', {
    description: 'rejuv: warm-VM reboot rejuvenation coordinator',
    ...toStackProps(settings, {
      account: process.env['CDK_DEFAULT_ACCOUNT'],
      region: process.env['CDK_DEFAULT_REGION'],
    }),
  });
  addNagChecks(app);
  app.synth();
} catch (error) {
  // A bad setting is the user's to fix: its message names the key and the value; a stack trace would bury it.
  if (error instanceof ValidationError) {
    console.error(`invalid ${error.subject}:\n${error.issues.map((i) => `  ${i}`).join('\n')}`);
  } else if (Errors.isValidationError(error)) {
    // A prop the construct refused (aws-cdk's ValidationError): the message names the prop and the value.
    console.error(`invalid setting (${error.constructPath ?? 'the app'}):\n  ${error.message}`);
  } else {
    throw error;
  }
  process.exitCode = 1;
}
