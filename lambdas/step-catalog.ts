/**
 * Every workflow function: its construct id (stable: part of the construct's contract) and the module
 * under lambdas/ that exports its `handler`. CDK builds one NodejsFunction per entry; local mode binds
 * the same modules' handlers in-process.
 */
export const WORKFLOW_STEPS = {
  Admit: 'admit',
  Advance: 'advance',
  HostCommandStart: 'host-command-start',
  HostCommandPoll: 'host-command-poll',
  DrainStart: 'drain-start',
  DrainCheck: 'drain-check',
  Undrain: 'undrain',
  AwaitHost: 'await-host',
  Compensate: 'compensate',
  Quarantine: 'quarantine',
  Release: 'release',
  Refuse: 'refuse',
  DryRunReport: 'dry-run-report',
  // Not a state of the workflow: EventBridge runs it when an execution ends without its own cleanup.
  Reap: 'reap',
} as const;

export type WorkflowStepId = keyof typeof WORKFLOW_STEPS;

/** The campaign state machine's steps: it runs the workflow above as a child execution per host. */
export const CAMPAIGN_STEPS = {
  CampaignPlan: 'campaign-plan',
  CampaignRecord: 'campaign-record',
  // Waits for a person's approval on a task token (lambda:invoke.waitForTaskToken), or records its expiry.
  CampaignAwaitApproval: 'campaign-await-approval',
} as const;

export type CampaignStepId = keyof typeof CAMPAIGN_STEPS;

export const TRIGGERS = {
  AlarmTrigger: 'alarm-trigger',
  // Starts maintenance for an operator, and registers, deregisters and releases hosts: behind a function
  // URL that AWS authenticates (the caller's ARN is the audited principal).
  OperatorApi: 'operator-api',
  // On a schedule: judges every host's aging series and starts the hosts predicted to run out
  // (shared/aging/predict-fleet.ts).
  AgingPredictor: 'aging-predictor',
} as const;

export type TriggerId = keyof typeof TRIGGERS;

/** Functions on a schedule, outside the workflow and the triggers. */
export const SCHEDULED = {
  // Onboards hosts from SSM's managed instances (shared/domain/host-sync-plan.ts).
  HostSync: 'host-sync',
  // Collects every managed host's aging measurements by tag and publishes them to CloudWatch.
  AgingCollector: 'aging-collector',
  // Runs queued alarm and prediction requests whose pool has room (shared/workflow/drain-pending.ts); also
  // whenever a per-host execution ends.
  PendingDrain: 'pending-drain',
} as const;

export type ScheduledId = keyof typeof SCHEDULED;
