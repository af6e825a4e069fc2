/** `npm run synth` entry: the RejuvStack with cdk-nag's AwsSolutions checks. */
import { App } from 'aws-cdk-lib';
import { addNagChecks } from './nag.js';
import { RejuvStack } from './rejuv-stack.js';

const app = new App();
new RejuvStack(app, 'Rejuv', {
  description: 'rejuv: warm-VM reboot rejuvenation coordinator',
  env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] },
});
addNagChecks(app);
app.synth();
