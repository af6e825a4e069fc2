import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../../cli/exit-codes.js';
import { targetFromStackOutputs } from '../../../cli/target.js';

const outputs = [
  { OutputKey: 'StateMachineArn', OutputValue: 'arn:aws:states:eu-west-1:123456789012:stateMachine:rejuv' },
  { OutputKey: 'HostsTableName', OutputValue: 'Rejuv-Hosts-1' },
  { OutputKey: 'LeasesTableName', OutputValue: 'Rejuv-Leases-1' },
  { OutputKey: 'AuditTableName', OutputValue: 'Rejuv-Audit-1' },
  { OutputKey: 'IdempotencyTableName', OutputValue: 'Rejuv-Idem-1' },
  { OutputKey: 'CampaignsTableName', OutputValue: 'Rejuv-Campaigns-1' },
  { OutputKey: 'PendingTableName', OutputValue: 'Rejuv-Pending-1' },
  { OutputKey: 'NotificationTopicArn', OutputValue: 'arn:aws:sns:eu-west-1:123456789012:t' },
  { OutputKey: 'AuditDigestBucketName', OutputValue: 'rejuv-auditdigests-1' },
  { OutputKey: 'AuditDigestKeyArn', OutputValue: 'arn:aws:kms:eu-west-1:123456789012:key/abc-1' },
  {
    OutputKey: 'OperatorApiUrl',
    OutputValue: 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/',
  },
];

describe('CLI target: a deployed stack', () => {
  it('reads the state machine, every table and the audit digests from the outputs RejuvStack declares', () => {
    expect(targetFromStackOutputs('Rejuv', outputs)).toEqual({
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:rejuv',
      operatorApiUrl: 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/',
      tables: {
        hosts: 'Rejuv-Hosts-1',
        leases: 'Rejuv-Leases-1',
        audit: 'Rejuv-Audit-1',
        idempotency: 'Rejuv-Idem-1',
        campaigns: 'Rejuv-Campaigns-1',
        pending: 'Rejuv-Pending-1',
      },
      auditDigests: {
        bucketName: 'rejuv-auditdigests-1',
        keyArn: 'arn:aws:kms:eu-west-1:123456789012:key/abc-1',
      },
    });
  });

  it.each(['AuditTableName', 'AuditDigestBucketName', 'AuditDigestKeyArn', 'OperatorApiUrl'])(
    'says which output is missing when the stack is not a rejuv stack (exit 4): %s',
    (missing) => {
      let thrown: unknown;
      try {
        targetFromStackOutputs(
          'Other',
          outputs.filter((o) => o.OutputKey !== missing),
        );
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CliError);
      expect(thrown).toMatchObject({
        exitCode: EXIT.notFound,
        message: `stack Other has no output ${missing}; is it a rejuv stack?`,
      });
    },
  );

  it('reads the seal interval verification judges overdue records by, and refuses one that is not seconds', () => {
    const withInterval = [...outputs, { OutputKey: 'AuditSealIntervalSeconds', OutputValue: '1800' }];
    expect(targetFromStackOutputs('Rejuv', withInterval).auditDigests.sealIntervalSeconds).toBe(1800);
    // A stack deployed before the output existed: the construct's default applies (see AuditDigestsTarget).
    expect(targetFromStackOutputs('Rejuv', outputs).auditDigests.sealIntervalSeconds).toBeUndefined();
    expect(() =>
      targetFromStackOutputs('Rejuv', [
        ...outputs,
        { OutputKey: 'AuditSealIntervalSeconds', OutputValue: '15m' },
      ]),
    ).toThrow(
      'stack Rejuv: output AuditSealIntervalSeconds is "15m", not a positive whole number of seconds',
    );
  });
});
