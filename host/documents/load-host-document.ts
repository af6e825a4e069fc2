/**
 * The one way to obtain a host document's final content, used by the CDK stack and by the local
 * runner alike, so what runs locally is byte for byte what ships. Each YAML file in this folder holds
 * a document whose runCommand has one `#@agent rejuv_agent` line; the loader replaces it with the
 * lines that unpack the agent's archive, built from host/agent/ (agent-archive.ts, agent-bootstrap.ts),
 * so the documents share one agent and nothing is pasted twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { CommandDocumentSchema, type CommandDocument } from '../runner/command-document.js';
import { UnsupportedDocumentError } from '../runner/errors.js';
import { AGENT_PACKAGE, agentArchive } from './agent-archive.js';
import { agentBootstrap } from './agent-bootstrap.js';

export const HOST_DOCUMENT_NAMES = ['Preflight', 'WarmReboot', 'Verify', 'Recover', 'CollectAging'] as const;
export type HostDocumentName = (typeof HOST_DOCUMENT_NAMES)[number];

const SOURCE_FILES: Record<HostDocumentName, string> = {
  Preflight: 'preflight.yaml',
  WarmReboot: 'warm-reboot.yaml',
  Verify: 'verify.yaml',
  Recover: 'recover.yaml',
  CollectAging: 'collect-aging.yaml',
};

/** CreateDocument refuses content over 64 KB (runtime parameter values count too). */
export const MAX_DOCUMENT_BYTES = 64 * 1024;

const DOCUMENTS_DIR = import.meta.dirname;
const AGENT_LINE = /^#@agent ([A-Za-z0-9_.-]+)$/;

export interface LoadedHostDocument {
  readonly name: HostDocumentName;
  /** The SSM document as an object (what CfnDocument's `content` and the local runner take). */
  readonly content: CommandDocument;
  /** The same document as YAML text, for `documentFormat: 'YAML'` (no JSON escaping of the agent). */
  readonly yaml: string;
  /** SHA-256 of `yaml`; changes whenever a document or the agent changes. */
  readonly sha256: string;
  /** SHA-256 of each embedded agent archive, by package name. */
  readonly agents: ReadonlyMap<string, string>;
}

function expandAgent(documentName: HostDocumentName, script: string, agents: Map<string, string>): string {
  return script
    .split('\n')
    .map((line) => {
      const packageName = AGENT_LINE.exec(line)?.[1];
      if (packageName === undefined) return line;
      if (packageName !== AGENT_PACKAGE)
        throw new UnsupportedDocumentError(
          documentName,
          `#@agent names ${packageName}, not ${AGENT_PACKAGE}`,
        );
      const archive = agentArchive();
      agents.set(packageName, archive.sha256);
      return agentBootstrap({ documentName, archive });
    })
    .join('\n');
}

const cache = new Map<HostDocumentName, LoadedHostDocument>();

export function loadHostDocument(name: HostDocumentName): LoadedHostDocument {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const source: unknown = parse(readFileSync(join(DOCUMENTS_DIR, SOURCE_FILES[name]), 'utf8'));
  const parsed = CommandDocumentSchema.safeParse(source);
  if (!parsed.success)
    throw new UnsupportedDocumentError(name, parsed.error.issues.map((i) => i.message).join('; '));
  const agents = new Map<string, string>();
  const content: CommandDocument = {
    ...parsed.data,
    mainSteps: parsed.data.mainSteps.map((step) => {
      const commands =
        typeof step.inputs.runCommand === 'string' ? [step.inputs.runCommand] : step.inputs.runCommand;
      return {
        ...step,
        inputs: { ...step.inputs, runCommand: commands.map((command) => expandAgent(name, command, agents)) },
      };
    }),
  };
  const yaml = stringify(content, { lineWidth: 0 });
  const loaded: LoadedHostDocument = {
    name,
    content,
    yaml,
    sha256: createHash('sha256').update(yaml).digest('hex'),
    agents,
  };
  if (Buffer.byteLength(yaml) > MAX_DOCUMENT_BYTES)
    throw new UnsupportedDocumentError(name, `${Buffer.byteLength(yaml)} bytes is over SSM's 64 KB limit`);
  cache.set(name, loaded);
  return loaded;
}
