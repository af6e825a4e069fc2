/** What the demo collects about each host's run, for the console summary and the HTML report. */
import type { StepSpan } from '../shared/workflow/operator-steps.js';

export type { StepSpan };

export interface VmPause {
  readonly vm: string;
  readonly pauseMs: number | null;
  readonly stateBytes: number | null;
  readonly rebooted: boolean;
}

export interface HostRun {
  readonly hostId: string;
  readonly trigger: 'alarm' | 'operator';
  readonly executionName: string;
  readonly status: string;
  readonly error?: string;
  readonly steps: readonly StepSpan[];
  readonly vms: readonly VmPause[];
  readonly auditVerified: boolean;
  readonly auditRecords: readonly {
    readonly seq: number;
    readonly at: string;
    readonly step: string;
    readonly outcome: string;
    readonly toState?: string;
    readonly principal: string;
    readonly hash: string;
  }[];
}

export interface DemoRun {
  readonly startedAt: string;
  readonly originMs: number;
  readonly hosts: readonly HostRun[];
}
