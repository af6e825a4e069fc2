import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentSha256 } from '../../host/documents/agent-bootstrap.js';
import {
  HOST_DOCUMENT_NAMES,
  loadHostDocument,
  MAX_DOCUMENT_BYTES,
} from '../../host/documents/load-host-document.js';
import { REPO_ROOT } from '../../host/lab/repo-paths.js';

const agentSource = readFileSync(join(REPO_ROOT, 'host', 'agent', 'rejuv_host.py'), 'utf8');

describe.each(HOST_DOCUMENT_NAMES)('Document: %s', (name) => {
  const document = loadHostDocument(name);
  const script = document.content.mainSteps
    .map((step) => [step.inputs.runCommand].flat().join('\n'))
    .join('\n');

  it('is a schemaVersion 2.2 aws:runShellScript document within SSM’s 64 KB limit', () => {
    expect(document.content.schemaVersion).toBe('2.2');
    expect(document.content.mainSteps.every((step) => step.action === 'aws:runShellScript')).toBe(true);
    expect(Buffer.byteLength(document.yaml)).toBeLessThan(MAX_DOCUMENT_BYTES);
    expect(Buffer.byteLength(JSON.stringify(document.content))).toBeLessThan(MAX_DOCUMENT_BYTES);
  });

  it('gives every parameter an anchored allowedPattern that its default satisfies', () => {
    for (const [parameter, declared] of Object.entries(document.content.parameters)) {
      expect(declared.allowedPattern, parameter).toMatch(/^\^.*\$$/);
      if (declared.default !== undefined)
        expect(String(declared.default)).toMatch(new RegExp(declared.allowedPattern ?? ''));
    }
  });

  it('puts each parameter reference in single quotes as a whole argument, never into code', () => {
    const references = [...script.matchAll(/\{\{[^}]*\}\}/g)].map((m) => m.index);
    expect(references.length).toBe(Object.keys(document.content.parameters).length);
    for (const match of script.matchAll(/(.)\{\{ *([A-Za-z]+) *\}\}(.)/g)) {
      expect(`${match[1]}${match[3]}`, match[2]).toBe("''");
    }
    const lines = script.split('\n').filter((line) => line.includes('{{'));
    expect(lines.every((line) => line.startsWith('python3 -I "$REJUV_AGENT" '))).toBe(true);
  });

  it('embeds exactly the agent source in this repository, checked by its sha256', () => {
    expect(document.agents.get('rejuv_host.py')).toBe(agentSha256(agentSource));
    expect(script).toContain(agentSha256(agentSource));
    expect(script).not.toContain('#@agent');
  });

  it('renders YAML that parses back to the same content', () => {
    expect(parse(document.yaml)).toEqual(JSON.parse(JSON.stringify(document.content)));
  });
});
