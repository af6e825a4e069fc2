import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentArchive } from '../../host/documents/agent-archive.js';
import { BASE64_LINE_CHARS } from '../../host/documents/agent-bootstrap.js';
import {
  HOST_DOCUMENT_NAMES,
  loadHostDocument,
  MAX_DOCUMENT_BYTES,
} from '../../host/documents/load-host-document.js';
import { parseHostDocumentResult } from '../../host/results/host-document-result.js';
import { runDocument } from '../../host/runner/run-document.js';

const archive = agentArchive();

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
    // executionTimeout is the one parameter the script never sees: the SSM Agent reads it as each step's
    // timeoutSeconds (and checks it against its own range), so it never reaches a shell.
    const stepTimeouts = document.content.mainSteps.map((step) => step.inputs.timeoutSeconds);
    const timedByParameter = 'executionTimeout' in document.content.parameters;
    if (timedByParameter) expect(new Set(stepTimeouts)).toEqual(new Set(['{{ executionTimeout }}']));
    const references = [...script.matchAll(/\{\{[^}]*\}\}/g)].map((m) => m.index);
    expect(references.length).toBe(
      Object.keys(document.content.parameters).length - (timedByParameter ? 1 : 0),
    );
    expect(script).not.toContain('executionTimeout');
    for (const match of script.matchAll(/(.)\{\{ *([A-Za-z]+) *\}\}(.)/g)) {
      expect(`${match[1]}${match[3]}`, match[2]).toBe("''");
    }
    const lines = script.split('\n').filter((line) => line.includes('{{'));
    expect(lines.every((line) => line.startsWith('rejuv_agent '))).toBe(true);
  });

  it('embeds exactly the agent archive built from this repository, checked by its sha256', () => {
    expect(document.agents.get('rejuv_agent')).toBe(archive.sha256);
    expect(script).toContain(archive.sha256);
    expect(script).not.toContain('#@agent');
  });

  it('renders YAML that parses back to the same content', () => {
    expect(parse(document.yaml)).toEqual(JSON.parse(JSON.stringify(document.content)));
  });
});

describe('Document bootstrap', () => {
  it('refuses to run an embedded agent that does not match its sha256, with a result line saying so', async () => {
    const { content } = loadHostDocument('Preflight');
    const [step] = content.mainSteps;
    if (step === undefined) throw new Error('Preflight has no step');
    const script = [step.inputs.runCommand].flat().join('\n');
    const payloadLine = script
      .split('\n')
      .findIndex((line) => new RegExp(`^[A-Za-z0-9+/]{${BASE64_LINE_CHARS}}$`).test(line));
    const lines = script.split('\n');
    const original = lines[payloadLine] ?? '';
    lines[payloadLine] = (original.startsWith('A') ? 'B' : 'A') + original.slice(1);
    const tampered = {
      ...content,
      mainSteps: [{ ...step, inputs: { ...step.inputs, runCommand: [lines.join('\n')] } }],
    };
    const hostRoot = await mkdtemp(join(tmpdir(), 'rejuv-bootstrap-'));
    try {
      const run = await runDocument({ document: tampered, parameters: { runId: 'tampered' }, hostRoot });
      expect(run).toMatchObject({ status: 'Failed', responseCode: 1 });
      expect(parseHostDocumentResult(run.stdout)).toMatchObject({
        document: 'Preflight',
        outcome: 'failed',
        reasonCode: 'agent-unpack-failed',
      });
    } finally {
      await rm(hostRoot, { recursive: true, force: true });
    }
  });
});
