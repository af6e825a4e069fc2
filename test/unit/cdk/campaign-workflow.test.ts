import aslValidator from 'asl-validator';
import { Template, Match } from 'aws-cdk-lib/assertions';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import {
  LOCAL_STATE_MACHINE_NAME,
  synthesizedWorkflow,
  type SynthesizedWorkflow,
} from '../../../local/step-functions/synthesized-workflow.js';

type State = {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  Next?: string;
  End?: boolean;
  Parameters?: Record<string, unknown>;
  ItemsPath?: string;
  ItemProcessor?: { ProcessorConfig?: { Mode?: string }; StartAt: string; States: Record<string, State> };
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Choices?: { Variable: string; StringEquals: string; Next: string }[];
  Default?: string;
};

let workflow: SynthesizedWorkflow;
let states: Record<string, State>;

beforeAll(() => {
  workflow = synthesizedWorkflow();
  if (workflow.campaign === undefined) throw new Error('no campaign state machine in the template');
  states = workflow.campaign.definition['States'] as Record<string, State>;
});

describe('Campaign workflow: the synthesized campaign state machine', () => {
  it('is valid ASL, in JSONPath (the local interpreter ignores JSONata)', () => {
    const definition = workflow.campaign?.definition ?? {};
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errors).toEqual([]);
    expect(definition['QueryLanguage'] ?? 'JSONPath').toBe('JSONPath');
  });

  it('loops Plan ▶ run the planned hosts ▶ Plan, waits when nothing starts, ends only when the plan says so', () => {
    expect(workflow.campaign?.definition['StartAt']).toBe('CountPass');
    expect(states['CountPass']?.Next).toBe('PassBudgetLeft');
    expect(states['PassBudgetLeft']?.Default).toBe('CampaignPlan');
    expect(states['CampaignPlan']?.Next).toBe('CampaignNext');
    const next = states['CampaignNext'];
    expect(next?.Choices?.map((c) => [c.Variable, c.StringEquals, c.Next])).toEqual([
      ['$.plan.action', 'start', 'RunHosts'],
      ['$.plan.action', 'await-approval', 'AwaitApproval'],
      ['$.plan.action', 'end', 'CampaignOutcome'],
    ]);
    expect(next?.Default).toBe('CampaignWait');
    expect(states['CampaignWait']?.Next).toBe('CountPass');
    // The plan says how long to wait (the replan interval, or longer while every pool waits for a window).
    expect((states['CampaignWait'] as State & { SecondsPath?: string }).SecondsPath).toBe(
      '$.plan.waitSeconds',
    );
    expect(states['CampaignPlan']?.Parameters).toEqual({
      'campaignId.$': '$.campaignId',
      replanSeconds: 10,
    });
    expect(states['RunHosts']?.Next).toBe('CountPass');
    expect(states['CampaignOutcome']?.Choices?.[0]).toMatchObject({
      StringEquals: 'halted',
      Next: 'CampaignHalted',
    });
    expect(states['CampaignHalted']?.Type).toBe('Fail');
  });

  it('continues as new past its pass budget: starts its own next generation by name, then ends', () => {
    expect(states['CountPass']?.Parameters).toEqual({
      'campaignId.$': '$.campaignId',
      'generation.$': '$.generation',
      'passes.$': 'States.MathAdd($.passes, 1)',
    });
    const budget = states['PassBudgetLeft'] as State & {
      Choices: { Variable: string; NumericGreaterThan: number; Next: string }[];
    };
    expect(budget.Choices).toEqual([
      { Variable: '$.passes', NumericGreaterThan: 25, Next: 'NextGeneration' },
    ]);
    const start = states['ContinueAsNew'];
    expect(start?.Resource).toBe('arn:aws:states:::states:startExecution');
    expect(start?.Parameters).toEqual({
      StateMachineArn: `arn:aws:states:local:000000000000:stateMachine:${workflow.campaign?.name}`,
      'Name.$': "States.Format('campaign_{}_{}', $.next, $.campaignId)",
      Input: { 'campaignId.$': '$.campaignId', 'generation.$': '$.next', passes: 0 },
    });
    expect(start?.Next).toBe('CampaignContinued');
    expect(states['CampaignContinued']?.Type).toBe('Succeed');
  });

  it('names the campaign machine uniquely per coordinator, and lets its role start only itself by that name', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(new RejuvStack(app, 'Rejuv'));
    const [campaign] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter(
      (m) => (m as { Properties: { StateMachineName?: string } }).Properties.StateMachineName !== undefined,
    ) as { Properties: { StateMachineName: string } }[];
    const name = campaign?.Properties.StateMachineName ?? '';
    expect(name).toMatch(/^Rejuv-Coordinator-[A-Za-z0-9]+-campaign$/);
    expect(name.length).toBeLessThanOrEqual(80);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('CampaignStateMachineRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'states:StartExecution',
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':states:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  `:stateMachine:${name}`,
                ],
              ],
            },
          }),
        ]),
      },
    });
  });

  it('refuses a pass budget outside 1..40', () => {
    for (const campaignPassesPerExecution of [0, 41, 2.5])
      expect(
        () => new RejuvStack(new App(), 'Rejuv', { coordinator: { campaignPassesPerExecution } }),
      ).toThrow(/campaignPassesPerExecution must be an integer from 1 to 40/);
  });

  it('waits for approval on a task token before any host starts, waking to plan again, ending rejected', () => {
    const wait = states['AwaitApproval'];
    expect(wait?.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect((wait?.Parameters?.['Payload'] as Record<string, unknown>)['taskToken.$']).toBe('$$.Task.Token');
    expect(wait?.Parameters?.['FunctionName']).toMatch(/CampaignAwaitApproval/);
    // The construct's default: a day.
    expect(wait?.TimeoutSeconds).toBe(24 * 3600);
    expect(wait?.Next).toBe('CountPass');
    expect(wait?.Catch?.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['States.Timeout'], 'ApprovalExpired'],
      [['CampaignApprovalDecidedError', 'CampaignRejected', 'CampaignCancelled'], 'CountPass'],
    ]);
    expect(states['ApprovalExpired']?.Parameters).toMatchObject({ expired: true, timeoutSeconds: 86_400 });
    expect(states['ApprovalExpired']?.Next).toBe('CountPass');
    expect(states['CampaignOutcome']?.Choices?.[1]).toMatchObject({
      StringEquals: 'rejected',
      Next: 'CampaignRejected',
    });
    expect(states['CampaignRejected']?.Type).toBe('Fail');
  });

  it('lets the operator API answer task tokens (on "*": the actions have no resource type), and no one else', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(new RejuvStack(app, 'Rejuv'));
    const answering = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, p]) =>
      JSON.stringify(p).includes('states:SendTaskSuccess'),
    );
    expect(answering.map(([id]) => id)).toEqual([expect.stringMatching(/^CoordinatorOperatorApiFunction/)]);
    expect(JSON.stringify(answering[0]?.[1])).toContain(
      JSON.stringify({
        Action: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
        Effect: 'Allow',
        Resource: '*',
      }),
    );
  });

  it('runs each planned host as a child execution of the per-host machine, waiting for it (.sync:2)', () => {
    const map = states['RunHosts'];
    expect(map?.Type).toBe('Map');
    expect(map?.ItemsPath).toBe('$.plan.hosts');
    const run = map?.ItemProcessor?.States['RunHost'];
    expect(run?.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(run?.Parameters).toEqual({
      StateMachineArn: `arn:aws:states:local:000000000000:stateMachine:${LOCAL_STATE_MACHINE_NAME}`,
      'Name.$': '$.host.executionName',
      // Exactly the claimed request: Admit refuses an input whose digest the claim does not hold.
      'Input.$': '$.host.request',
    });
    // Any failure of the child (refused, recovered, quarantined) is recorded, never the campaign's end.
    expect(run?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordHostFailed', ResultPath: '$.error' },
    ]);
    expect(run?.Next).toBe('RecordHostDone');
  });

  it('lets the campaign role start the per-host machine and use the managed rule that .sync needs', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(new RejuvStack(app, 'Rejuv'));
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const hostMachineId = Object.keys(machines).find((id) => id.startsWith('CoordinatorStateMachine'));
    expect(hostMachineId).toBeDefined();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('CampaignStateMachineRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: hostMachineId } }),
          Match.objectLike({
            Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
            Resource: {
              'Fn::Join': [
                '',
                Match.arrayWith([':rule/StepFunctionsGetEventsForStepFunctionsExecutionRule']),
              ],
            },
          }),
        ]),
      },
    });
  });
});
