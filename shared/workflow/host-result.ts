/**
 * The coordinator's reading of the one JSON line a host document prints: the contract's own strict
 * schema (host/results/host-document-result.ts, the one the tests and the agent's JSON Schema use too),
 * plus the reasons gathered into one list for the audit trail and the errors.
 */
import {
  HostResultUnreadableError,
  HostResultVersionError,
  parseHostDocumentResult,
  type HostDocumentResult,
} from '../../host/results/host-document-result.js';

export type HostResult = HostDocumentResult & {
  /** The result's reason, then each VM's as `name: reason`. */
  readonly reasons: readonly string[];
  /** Preflight's census: the VM processes on the host the agent does not rejuvenate, each with why. */
  readonly notRejuvenated: readonly string[];
};

/** The census statuses of VMs the agent rejuvenates, or has no process for: every other one is left out. */
const RUN_BY_THE_AGENT = new Set(['managed', 'missing']);

function notRejuvenated(result: HostDocumentResult): string[] {
  if (result.document !== 'Preflight') return [];
  return (result.census ?? [])
    .filter((vm) => !RUN_BY_THE_AGENT.has(vm.outcome))
    .map(
      (vm) =>
        `${vm.name} (${vm.pid === undefined ? '' : `pid ${vm.pid}, `}${vm.outcome})${vm.reason === undefined ? '' : `: ${vm.reason}`}`,
    );
}

export type HostResultReading =
  | { readonly result: HostResult; readonly problem?: undefined; readonly versionError?: undefined }
  | {
      readonly result?: undefined;
      /** Why there is no result, in a line for the audit trail. */
      readonly problem: string;
      /** Set when the line is of another schema version: the step fails with it, by its own name. */
      readonly versionError?: HostResultVersionError;
    };

/**
 * Reads the result of `document` from its stdout. A line of another document is no result either,
 * except `unknown`: the agent's answer when it could not parse its arguments at all.
 */
export function readHostResult(
  stdout: string,
  document: Exclude<HostDocumentResult['document'], 'unknown'>,
): HostResultReading {
  let result: HostDocumentResult;
  try {
    result = parseHostDocumentResult(stdout);
  } catch (error) {
    if (error instanceof HostResultVersionError) return { problem: error.message, versionError: error };
    if (error instanceof HostResultUnreadableError) return { problem: error.message };
    throw error;
  }
  if (result.document !== document && result.document !== 'unknown')
    return { problem: `expected a ${document} result, got ${result.document}` };
  const vmReasons = (result.vms as readonly { name: string; reason?: string | undefined }[])
    .filter((vm) => vm.reason !== undefined)
    .map((vm) => `${vm.name}: ${vm.reason}`);
  return {
    result: {
      ...result,
      reasons: [...(result.reason === undefined ? [] : [result.reason]), ...vmReasons],
      notRejuvenated: notRejuvenated(result),
    },
  };
}
