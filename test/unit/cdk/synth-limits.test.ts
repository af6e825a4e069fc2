/**
 * Synth refuses what AWS would refuse at deploy: settings the construct accepts must either give a template
 * inside AWS's limits or be refused at synth with the setting named. These synthesize the stack at the
 * settings' limits and judge the template as the services would.
 */
import { createHash } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { RejuvStack, type RejuvStackProps } from '../../../cdk/rejuv-stack.js';
import {
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  measureEnvironment,
} from '../../../cdk/limits/function-environment.js';
import type { PolicyConfigInput } from '../../../shared/policy/policy-config.js';

/** A whole-stack synth takes tens of seconds on a loaded 2-core machine. */
const SYNTH_TIMEOUT_MS = 180_000;

/** Synthesis without bundling: the environment is in the template, not in the code. */
function synthesize(coordinator: RejuvStackProps['coordinator'] = {}): RejuvStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RejuvStack(app, 'Rejuv', { coordinator });
  app.synth();
  return stack;
}

/** A policy whose JSON is just under the construct's 2 KB cap on it: blocker patterns on one pool. */
function policyNearItsCap(): PolicyConfigInput {
  const patterns: string[] = [];
  const policy = () => ({ pools: { web: { blockerAlarmPatterns: patterns } } });
  while (JSON.stringify(policy()).length < 2000)
    patterns.push(`web-frontend-blocker-alarm-${patterns.length}-*`);
  patterns.pop();
  return policy();
}

const role = (n: number) => `arn:aws:iam::123456789012:role/operators/rejuv-operator-${n}`;

describe('Synth: function environments (Lambda: 4 KB as it measures them)', () => {
  it(
    'every function of the default stack is inside the limit, each reference at its longest',
    () => {
      const stack = synthesize();
      const functions = Object.values(stack.coordinator.functions);
      expect(functions.length).toBeGreaterThan(10);
      for (const fn of functions)
        expect(measureEnvironment(fn).bytes, fn.node.id).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_LIMIT_BYTES);
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'a policy near its 2 KB cap, a few pools and grants fit every function (OperatorApi measured 4,387 B before: its deploy failed)',
    () => {
      const policy = policyNearItsCap();
      expect(Buffer.byteLength(JSON.stringify(policy))).toBeLessThanOrEqual(2048);
      const stack = synthesize({
        policy,
        pools: {
          web: { maxHostsInMaintenance: 2 },
          db: { maxHostsInMaintenance: 1 },
          cache: { maxHostsInMaintenance: 3 },
        },
        operators: [1, 2, 3, 4].map((n) => ({ principals: [role(n)], pools: ['web', 'db', 'cache'] })),
      });
      for (const fn of Object.values(stack.coordinator.functions))
        expect(measureEnvironment(fn).bytes, fn.node.id).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_LIMIT_BYTES);
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'grants past what 4 KB can hold are refused at synth, naming the function and the setting',
    () => {
      // The schema takes up to 100 grants; role names that look random do not pack away.
      const operators = Array.from({ length: 100 }, (_, n) => ({
        principals: [`${role(n)}-${createHash('sha256').update(String(n)).digest('hex')}`],
        pools: [`pool-${n}`],
      }));
      expect(() => synthesize({ operators })).toThrow(
        /OperatorApiFunction: its environment measures up to \d+ bytes .* over Lambda's 4096: REJUV_OPERATOR_GRANTS \d+ B \(operators\)/,
      );
    },
    SYNTH_TIMEOUT_MS,
  );
});
