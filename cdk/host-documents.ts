/** The content of each host document as it ships: the one loader in host/ builds it for CDK and local runs alike. */
import { loadHostDocument, type HostDocumentName } from '../host/documents/load-host-document.js';

export function hostDocumentContent(document: HostDocumentName): Record<string, unknown> {
  return loadHostDocument(document).content as unknown as Record<string, unknown>;
}
