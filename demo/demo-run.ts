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
  readonly trigger: 'alarm' | 'operator' | 'predictive';
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

export interface RssPoint {
  /** Epoch ms of the measurement. */
  readonly t: number;
  readonly rssBytes: number;
}

/** The aging segment: a leaking QEMU process, the prediction it raised, and its memory after. */
export interface AgingRun {
  readonly hostId: string;
  readonly vm: string;
  /** The predictor's settings at demo speed, as printed. */
  readonly settings: string;
  /** The leaking VM's QEMU RSS, one point per collection round, before and after the rejuvenation. */
  readonly series: readonly RssPoint[];
  /** The time of the last measurement before the predictor fired. */
  readonly firedAtMs?: number;
  readonly executionName: string;
  readonly status: string;
  /** The request's reason, as the predictor wrote it and the audit keeps it. */
  readonly reason: string;
  readonly evidence: {
    readonly series: string | null;
    readonly s: number | null;
    readonly z: number | null;
    readonly p: number | null;
    readonly slopePerDay: number | null;
    readonly projectedExhaustionAt: string | null;
  };
  readonly rssAtFireBytes: number | null;
  readonly rssAfterBytes: number | null;
  readonly fellBack: boolean;
}

export interface DemoRun {
  readonly startedAt: string;
  readonly originMs: number;
  readonly hosts: readonly HostRun[];
  readonly aging?: AgingRun;
}
