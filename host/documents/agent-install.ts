/**
 * The shell lines that install a versioned agent on a host and that run only that version: the way
 * the agent is to reach hosts without riding inside every document (issue 22, deliverable 2). Not yet
 * used by the documents, which still embed the archive (agent-bootstrap.ts).
 *
 * - `agentInstallLines`: after an aws:downloadContent step put the archive at `downloaded`, check its
 *   SHA-256 against the archive the documents were built with and install it side by side with older
 *   versions, at <root>/var/lib/rejuv/agent/<sha256>/rejuv-agent.pyz (directory 0700, file 0600, written
 *   to a temporary name and renamed into place). Idempotent: an installed copy with that hash is kept.
 *   A mismatch installs nothing and prints a result line with reasonCode agent-hash-mismatch.
 * - `agentGateLines`: before anything else, refuse (reasonCode agent-version-absent) unless that exact
 *   version is installed and still hashes to its name; then define `rejuv_agent <args>`.
 * <root> is REJUV_HOST_ROOT when the host is a lab directory, / under SSM.
 */
import type { AgentArchive } from './agent-archive.js';
import { echoResultLine } from './agent-bootstrap.js';

export const AGENT_FILE_NAME = 'rejuv-agent.pyz';

function failureLine(documentName: string, reason: string, code: string): string {
  return echoResultLine(documentName, 'refused', reason, code);
}

const HOME = 'REJUV_AGENT_HOME="${REJUV_HOST_ROOT:-}/var/lib/rejuv/agent"';

export function agentInstallLines(documentName: string, archive: AgentArchive, downloaded: string): string {
  const mismatch = failureLine(
    documentName,
    `the downloaded host agent does not match sha256 ${archive.sha256}; nothing was installed`,
    'agent-hash-mismatch',
  );
  return [
    HOME,
    `if ! python3 -I -c 'import hashlib, os, sys`,
    'sha256, source, home = sys.argv[1:4]',
    'target = os.path.join(home, sha256, "rejuv-agent.pyz")',
    'def digest(path):',
    '    with open(path, "rb") as handle:',
    '        return hashlib.sha256(handle.read()).hexdigest()',
    'if os.path.isfile(target) and digest(target) == sha256:',
    '    sys.exit(0)',
    'with open(source, "rb") as handle:',
    '    data = handle.read()',
    'if hashlib.sha256(data).hexdigest() != sha256:',
    '    sys.exit("rejuv: %s does not match sha256 %s" % (source, sha256))',
    'os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)',
    'temporary = "%s.%d.tmp" % (target, os.getpid())',
    'with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:',
    '    handle.write(data)',
    `os.replace(temporary, target)' ${archive.sha256} '${downloaded}' "$REJUV_AGENT_HOME"; then`,
    `  ${mismatch}`,
    '  exit 1',
    'fi',
  ].join('\n');
}

export function agentGateLines(documentName: string, archive: AgentArchive): string {
  const absent = failureLine(
    documentName,
    `host agent ${archive.sha256} is not installed on this host (Preflight installs it); nothing was touched`,
    'agent-version-absent',
  );
  return [
    HOME,
    `REJUV_AGENT="$REJUV_AGENT_HOME/${archive.sha256}/${AGENT_FILE_NAME}"`,
    `if ! python3 -I -c 'import hashlib, sys`,
    'with open(sys.argv[2], "rb") as handle:',
    `    sys.exit(hashlib.sha256(handle.read()).hexdigest() != sys.argv[1])' ${archive.sha256} "$REJUV_AGENT" 2>/dev/null; then`,
    `  ${absent}`,
    '  exit 1',
    'fi',
    `rejuv_agent() { python3 -I "$REJUV_AGENT" "$@"; }`,
  ].join('\n');
}
