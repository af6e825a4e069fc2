/**
 * The shell lines an `#@agent rejuv_agent` marker expands to: they write the host agent's archive
 * (agent-archive.ts) into a private temporary directory and define `rejuv_agent <args>`, which runs it
 * with `python3 -I`. The archive travels zlib-compressed and base64 encoded inside the document (as
 * plain text it alone would fill SSM's 64 KB document limit); before it is written, its
 * SHA-256 is checked against the hash of the archive built from this repository, which the lines
 * name. The directory (mktemp -d: mode 0700) is removed when the script ends, however it ends short of
 * a kill. Every way out still prints the one JSON result line the coordinator expects.
 */
import { deflateSync } from 'node:zlib';
import type { AgentArchive } from './agent-archive.js';

export const PAYLOAD_DELIMITER = 'REJUV_AGENT_PAYLOAD';
/** Long lines: each costs the YAML block its indentation, and the document is near its size limit. */
export const BASE64_LINE_CHARS = 1024;

export interface AgentBootstrapInput {
  readonly documentName: string;
  readonly archive: AgentArchive;
}

function failureLine(documentName: string, reason: string, code: string): string {
  const result = {
    document: documentName,
    outcome: 'failed',
    reason,
    reasonCode: code,
    vms: [],
    schemaVersion: 1,
  };
  // Single-quoted for the shell: JSON.stringify of these fixed strings never contains a quote.
  return `echo '${JSON.stringify(result)}'`;
}

export function agentBootstrap({ documentName, archive }: AgentBootstrapInput): string {
  const payload = deflateSync(archive.bytes, { level: 9 }).toString('base64');
  const payloadLines = payload.match(new RegExp(`.{1,${BASE64_LINE_CHARS}}`, 'g')) ?? [];
  const unpackFailed = failureLine(
    documentName,
    'the embedded host agent could not be unpacked',
    'agent-unpack-failed',
  );
  return [
    `# rejuv host agent: host/agent (the rejuv_agent package as a zipapp), sha256 ${archive.sha256}.`,
    `# Written to a private temporary directory, checked against that hash, run from there, removed at exit.`,
    'if ! command -v python3 >/dev/null 2>&1; then',
    `  ${failureLine(documentName, 'python3 is not installed on this host', 'no-python')}`,
    '  exit 1',
    'fi',
    'if ! REJUV_AGENT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rejuv-agent.XXXXXXXX"); then',
    `  ${unpackFailed}`,
    '  exit 1',
    'fi',
    `trap 'rm -rf "$REJUV_AGENT_DIR"' EXIT`,
    `if ! python3 -I -c 'import base64, hashlib, os, sys, zlib`,
    'archive = zlib.decompress(base64.b64decode(sys.stdin.read()))',
    'if hashlib.sha256(archive).hexdigest() != sys.argv[1]:',
    '    sys.exit("rejuv: the embedded host agent does not match its sha256")',
    'with open(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:',
    `    handle.write(archive)' ${archive.sha256} "$REJUV_AGENT_DIR/rejuv-agent.pyz" <<'${PAYLOAD_DELIMITER}'`,
    ...payloadLines,
    PAYLOAD_DELIMITER,
    'then',
    `  ${unpackFailed}`,
    '  exit 1',
    'fi',
    `# The agent's arguments are the function's, each quoted by the caller.`,
    `rejuv_agent() { python3 -I "$REJUV_AGENT_DIR/rejuv-agent.pyz" "$@"; }`,
  ].join('\n');
}
