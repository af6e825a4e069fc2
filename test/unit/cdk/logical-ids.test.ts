/**
 * The logical ids a deployed stack depends on: CloudFormation replaces a resource whose logical id
 * changes (a new table, a new signing key, a new Object Lock bucket, the old ones orphaned or deleted).
 * The fixture lists every resource of the stack as synthesized on main before the coordinator was split
 * into parts (commit 1362dae); a refactoring of the construct must leave it as it is.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toStackProps } from '../../../cdk/app-settings.js';
import { readAppSettings } from '../../../cdk/read-app-settings.js';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/logical-ids.json', import.meta.url));

/** Every resource as `LogicalId Type`, sorted. */
function resourcesOf(stack: Stack): string[] {
  const resources = Template.fromStack(stack).toJSON()['Resources'] as Record<string, { Type: string }>;
  return Object.entries(resources)
    .map(([id, r]) => `${id} ${r.Type}`)
    .sort();
}

/** Synthesis without bundling: the ids do not depend on the function code. */
function app(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

describe('Construct ids: the logical ids of a deployed stack', () => {
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, string[]>;

  it('keeps every resource of the example config (own topic with an email, operators, target groups)', () => {
    const settings = readAppSettings({ 'rejuv:config': 'rejuv.config.example.json' }, { cwd: REPO });
    const stack = new RejuvStack(app(), 'Rejuv', toStackProps(settings));
    expect(resourcesOf(stack)).toEqual(fixture['exampleConfig']);
  }, 60_000);

  it('keeps every resource of a stack that notifies an existing topic, with no optional feature', () => {
    const stack = new RejuvStack(app(), 'Rejuv', {
      notification: { topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' },
      coordinator: { agingAlarms: { enabled: false }, agingCollection: { enabled: false } },
    });
    expect(resourcesOf(stack)).toEqual(fixture['existingTopic']);
  }, 60_000);
});
