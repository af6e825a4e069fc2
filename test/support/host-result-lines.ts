/**
 * Host document result lines as the agent prints them (schemaVersion and document set), for the tests
 * that script a host's answers: the coordinator reads them with the contract's strict schema.
 */
import { RESULT_SCHEMA_VERSION } from '../../host/results/host-document-result.js';
import type { HostDocument } from '../../shared/workflow/workflow-config.js';

/** The JSON line `document` prints with `fields` (no VMs unless given). */
export function hostResultLine(document: HostDocument, fields: Readonly<Record<string, unknown>>): string {
  return JSON.stringify({ schemaVersion: RESULT_SCHEMA_VERSION, document, vms: [], ...fields });
}
