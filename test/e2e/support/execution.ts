import type { LocalEnvironment } from '../../../local/local-environment.js';
import type { LocalExecution } from '../../../local/step-functions/local-step-functions.js';
import { hostChainId, type AuditRecord } from '../../../shared/domain/audit-record.js';

export interface TriggerAnswer {
  readonly status: 'started' | 'duplicate';
  readonly executionName: string;
}

export async function finished(env: LocalEnvironment, executionName: string): Promise<LocalExecution> {
  const execution = env.stepFunctions.execution(executionName);
  if (execution === undefined) throw new Error(`no execution ${executionName}`);
  await execution.done;
  return execution;
}

export async function auditChain(env: LocalEnvironment, hostId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const r of env.store.audit.read(hostChainId(hostId))) records.push(r);
  return records;
}

export function operatorRequest(hostId: string, requestId: string, extra: Record<string, unknown> = {}) {
  return { hostId, reason: 'planned rejuvenation', requestId, ...extra };
}
