import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../../cli/exit-codes.js';
import { targetFromStackOutputs } from '../../../cli/target.js';

const outputs = [
  { OutputKey: 'StateMachineArn', OutputValue: 'arn:aws:states:eu-west-1:123456789012:stateMachine:rejuv' },
  { OutputKey: 'HostsTableName', OutputValue: 'Rejuv-Hosts-1' },
  { OutputKey: 'LeasesTableName', OutputValue: 'Rejuv-Leases-1' },
  { OutputKey: 'AuditTableName', OutputValue: 'Rejuv-Audit-1' },
  { OutputKey: 'IdempotencyTableName', OutputValue: 'Rejuv-Idem-1' },
  { OutputKey: 'NotificationTopicArn', OutputValue: 'arn:aws:sns:eu-west-1:123456789012:t' },
];

describe('CLI target: a deployed stack', () => {
  it('reads the state machine and every table from the outputs RejuvStack declares', () => {
    expect(targetFromStackOutputs('Rejuv', outputs)).toEqual({
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:rejuv',
      tables: {
        hosts: 'Rejuv-Hosts-1',
        leases: 'Rejuv-Leases-1',
        audit: 'Rejuv-Audit-1',
        idempotency: 'Rejuv-Idem-1',
      },
    });
  });

  it('says which output is missing when the stack is not a rejuv stack (exit 4)', () => {
    const withoutAudit = outputs.filter((o) => o.OutputKey !== 'AuditTableName');
    let thrown: unknown;
    try {
      targetFromStackOutputs('Other', withoutAudit);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CliError);
    expect(thrown).toMatchObject({
      exitCode: EXIT.notFound,
      message: expect.stringMatching(/stack Other has no output AuditTableName/),
    });
  });
});
