/** The content of each host document as it ships: the one loader in host/ builds it for CDK and local runs alike. */
import { loadHostDocument } from '../host/documents/load-host-document.js';
import type { HostDocument } from '../shared/workflow/workflow-config.js';

export function hostDocumentContent(document: HostDocument): Record<string, unknown> {
  return loadHostDocument(document).content as unknown as Record<string, unknown>;
}
