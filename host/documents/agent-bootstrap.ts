/**
 * The shell lines an `#@agent <file>` marker expands to: they unpack the host agent into a shell
 * variable and define `rejuv_agent <args>`, which pipes it into `python3 -I -`. The agent travels
 * zlib-compressed and base64 encoded because as plain text it alone would fill SSM's 64 KB document
 * limit; before it runs, its SHA-256 is checked against the hash of the source file in this
 * repository, which the lines name. Nothing is written to disk, so a document killed at its timeout
 * leaves nothing behind. Every way out still prints the one JSON result line the coordinator expects.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

export const PAYLOAD_DELIMITER = 'REJUV_AGENT_PAYLOAD';
const BASE64_LINE_CHARS = 76;

export interface AgentBootstrapInput {
  readonly documentName: string;
  /** File name under host/agent/, named in the comment. */
  readonly fileName: string;
  readonly source: string;
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

export function agentSha256(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex');
}

export function agentBootstrap({ documentName, fileName, source }: AgentBootstrapInput): string {
  const sha256 = agentSha256(source);
  const payload = deflateSync(Buffer.from(source, 'utf8'), { level: 9 }).toString('base64');
  const payloadLines = payload.match(new RegExp(`.{1,${BASE64_LINE_CHARS}}`, 'g')) ?? [];
  return [
    `# rejuv host agent: host/agent/${fileName}, sha256 ${sha256}.`,
    `# Compressed to fit SSM's 64 KB document limit; unpacked and checked against that hash before it runs.`,
    'if ! command -v python3 >/dev/null 2>&1; then',
    `  ${failureLine(documentName, 'python3 is not installed on this host', 'no-python')}`,
    '  exit 1',
    'fi',
    `if ! REJUV_AGENT_SOURCE=$(python3 -I -c 'import base64, hashlib, sys, zlib`,
    'source = zlib.decompress(base64.b64decode(sys.stdin.read()))',
    'if hashlib.sha256(source).hexdigest() != sys.argv[1]:',
    '    sys.exit("rejuv: the embedded host agent does not match its sha256")',
    `sys.stdout.buffer.write(source)' ${sha256} <<'${PAYLOAD_DELIMITER}'`,
    ...payloadLines,
    PAYLOAD_DELIMITER,
    '); then',
    `  ${failureLine(documentName, 'the embedded host agent could not be unpacked', 'agent-unpack-failed')}`,
    '  exit 1',
    'fi',
    `# The agent's program arrives on stdin; its arguments are the function's, each quoted by the caller.`,
    `rejuv_agent() { printf '%s\\n' "$REJUV_AGENT_SOURCE" | python3 -I - "$@"; }`,
  ].join('\n');
}
