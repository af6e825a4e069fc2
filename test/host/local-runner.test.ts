import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandDocumentInput } from '../../host/runner/command-document.js';
import { DocumentParameterError, UnsupportedDocumentError } from '../../host/runner/errors.js';
import {
  runDocument,
  STDERR_LIMIT_CHARS,
  STDOUT_LIMIT_CHARS,
  STOPPED_PREEMPTIVELY_EXIT_CODE,
} from '../../host/runner/run-document.js';
import { isAlive, waitForExit } from '../../host/lab/vm-processes.js';

function shellDocument(
  script: string,
  options: { timeoutSeconds?: string; parameters?: CommandDocumentInput['parameters'] } = {},
): CommandDocumentInput {
  return {
    schemaVersion: '2.2',
    parameters: options.parameters ?? {},
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'only',
        inputs: {
          runCommand: [script],
          ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
        },
      },
    ],
  };
}

let hostRoot: string;
beforeEach(async () => {
  hostRoot = await mkdtemp(join(tmpdir(), 'rejuv-runner-'));
});
afterEach(async () => {
  await rm(hostRoot, { recursive: true, force: true });
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('Function: runDocument', () => {
  describe('exit codes', () => {
    it('reports exit 0 as Success with its output', async () => {
      const run = await runDocument({ document: shellDocument('echo hello; echo oops >&2'), hostRoot });
      expect(run).toMatchObject({ status: 'Success', responseCode: 0, stdout: 'hello\n', stderr: 'oops\n' });
      expect(run.steps).toHaveLength(1);
    });

    it('reports a non-zero exit as Failed with that response code', async () => {
      const run = await runDocument({ document: shellDocument('exit 3'), hostRoot });
      expect(run).toMatchObject({ status: 'Failed', responseCode: 3 });
    });

    it('runs the script as a file through sh -c, so its shebang picks the interpreter', async () => {
      const run = await runDocument({
        document: shellDocument('#!/bin/bash\necho "${BASH_VERSION:+bash}" "$0"'),
        hostRoot,
      });
      expect(run.stdout).toMatch(/^bash .*\/_script\.sh\n$/);
    });

    it('runs the next step after a failure, but not after onFailure: exit or exit code 168', async () => {
      const step = (name: string, script: string, onFailure?: 'exit') => ({
        action: 'aws:runShellScript',
        name,
        ...(onFailure ? { onFailure } : {}),
        inputs: { runCommand: [script] },
      });
      const run = await runDocument({
        document: {
          schemaVersion: '2.2',
          mainSteps: [
            step('fails', 'exit 2'),
            step('continues', 'echo second'),
            step('stops', 'exit 5', 'exit'),
            step('never', 'echo never'),
          ],
        },
        hostRoot,
      });
      expect(run.steps.map((s) => s.status)).toEqual(['Failed', 'Success', 'Failed', 'Skipped']);
      expect(run).toMatchObject({ status: 'Failed', responseCode: 5 });

      const skipRest = await runDocument({
        document: {
          schemaVersion: '2.2',
          mainSteps: [step('done', 'exit 168'), step('never', 'echo never')],
        },
        hostRoot,
      });
      expect(skipRest.steps.map((s) => s.status)).toEqual(['Success', 'Skipped']);
      expect(skipRest.status).toBe('Success');
    });
  });

  describe('exit 194: reboot and run the same step again', () => {
    // A script that asks for one reboot, as the kernel level does: its journal says whether it ran before.
    const rebootOnce = (journal: string) =>
      `if [ -e ${journal} ]; then echo resumed; exit 0; fi; touch ${journal}; echo first; exit 194`;

    it('reboots the host and reruns the step, whose rerun is the step’s result; the next step follows', async () => {
      const journal = join(hostRoot, 'journal');
      let reboots = 0;
      const run = await runDocument({
        document: {
          schemaVersion: '2.2',
          mainSteps: [
            { action: 'aws:runShellScript', name: 'reload', inputs: { runCommand: [rebootOnce(journal)] } },
            { action: 'aws:runShellScript', name: 'after', inputs: { runCommand: ['echo after'] } },
          ],
        },
        hostRoot,
        reboot: async () => {
          reboots++;
        },
      });
      expect(reboots).toBe(1);
      expect(run.steps.map((s) => [s.name, s.status, s.responseCode, s.stdout])).toEqual([
        ['reload', 'Success', 0, 'resumed\n'],
        ['after', 'Success', 0, 'after\n'],
      ]);
    });

    it('fails the step and says why on a host that cannot reboot', async () => {
      const run = await runDocument({ document: shellDocument(rebootOnce(join(hostRoot, 'j'))), hostRoot });
      expect(run).toMatchObject({ status: 'Failed', responseCode: 194 });
      expect(run.stderr).toMatch(
        /exit 194 asks the SSM agent to reboot the host; this host cannot be rebooted/,
      );
    });

    it('stops a step that asks for a reboot every time', async () => {
      let reboots = 0;
      const run = await runDocument({
        document: shellDocument('exit 194'),
        hostRoot,
        reboot: async () => {
          reboots++;
        },
      });
      expect(reboots).toBe(3);
      expect(run).toMatchObject({ status: 'Failed', responseCode: 194 });
      expect(run.stderr).toMatch(/asked for a reboot 4 times in a row; stopped/);
    });

    it('reports Cancelled when the command is cancelled while the host is rebooting', async () => {
      const controller = new AbortController();
      const run = await runDocument({
        document: shellDocument(rebootOnce(join(hostRoot, 'j2'))),
        hostRoot,
        signal: controller.signal,
        // A host that never comes back: the reboot ends only when the signal aborts.
        reboot: (signal) =>
          new Promise<void>((resolve) => {
            signal?.addEventListener('abort', () => resolve(), { once: true });
            controller.abort();
          }),
      });
      expect(run.status).toBe('Cancelled');
      expect(run.stdout).toBe('first\n');
    });
  });

  describe('timeouts and cancellation', () => {
    it('kills the whole process group at timeoutSeconds (from a parameter, as the host documents take it) and reports TimedOut', async () => {
      const pidFile = join(hostRoot, 'child.pid');
      const run = await runDocument({
        document: shellDocument(`sleep 300 & echo $! > ${pidFile}; wait`, {
          timeoutSeconds: '{{ executionTimeout }}',
          parameters: { executionTimeout: { type: 'String', allowedPattern: '^[0-9]{1,6}$' } },
        }),
        // The agent's shortest step timeout: below 5 s it runs the step for its default hour instead.
        parameters: { executionTimeout: '5' },
        hostRoot,
      });
      expect(run).toMatchObject({ status: 'TimedOut', responseCode: STOPPED_PREEMPTIVELY_EXIT_CODE });
      const backgroundChild = Number(await readFile(pidFile, 'utf8'));
      expect(await waitForExit(backgroundChild, 5000)).toBe(true);
    });

    it('kills the process group and reports Cancelled when the signal aborts', async () => {
      const pidFile = join(hostRoot, 'child.pid');
      const controller = new AbortController();
      const running = runDocument({
        document: shellDocument(`sleep 300 & echo $! > ${pidFile}; wait`),
        hostRoot,
        signal: controller.signal,
      });
      while (!(await exists(pidFile))) await new Promise((resolve) => setTimeout(resolve, 10));
      const backgroundChild = Number(await readFile(pidFile, 'utf8'));
      expect(await isAlive(backgroundChild)).toBe(true);
      controller.abort();
      expect(await running).toMatchObject({
        status: 'Cancelled',
        responseCode: STOPPED_PREEMPTIVELY_EXIT_CODE,
      });
      expect(await waitForExit(backgroundChild, 5000)).toBe(true);
    });

    it('cancels a step whose signal aborts while the step is still being written out, before it starts', async () => {
      const marker = join(hostRoot, 'ran');
      const controller = new AbortController();
      // runDocument is then inside the step's preparation (its first await), past the check between steps.
      const running = runDocument({
        document: shellDocument(`sleep 300; touch ${marker}`),
        hostRoot,
        signal: controller.signal,
      });
      controller.abort();
      expect(await running).toMatchObject({
        status: 'Cancelled',
        responseCode: STOPPED_PREEMPTIVELY_EXIT_CODE,
      });
      expect(await exists(marker)).toBe(false);
    });
  });

  describe('output', () => {
    it('truncates stdout to 24,000 and stderr to 8,000 characters, keeping the beginning', async () => {
      const run = await runDocument({
        document: shellDocument(
          `printf 'S%.0s' $(seq 30000); printf 'E%.0s' $(seq 10000) >&2; echo; echo tail-of-stdout`,
        ),
        hostRoot,
      });
      expect(run.stdout).toHaveLength(STDOUT_LIMIT_CHARS);
      expect(run.stdout).toBe('S'.repeat(STDOUT_LIMIT_CHARS));
      expect(run.stderr).toHaveLength(STDERR_LIMIT_CHARS);
    });

    it('gives the script REJUV_HOST_ROOT and extra env, but not the caller’s own environment', async () => {
      process.env['REJUV_RUNNER_LEAK_CHECK'] = 'leaked';
      try {
        const run = await runDocument({
          document: shellDocument('echo "$REJUV_HOST_ROOT|$EXTRA|${REJUV_RUNNER_LEAK_CHECK:-absent}"'),
          hostRoot,
          env: { EXTRA: 'given' },
        });
        expect(run.stdout).toBe(`${hostRoot}|given|absent\n`);
      } finally {
        delete process.env['REJUV_RUNNER_LEAK_CHECK'];
      }
    });
  });

  describe('parameters', () => {
    const parameters: CommandDocumentInput['parameters'] = {
      name: { type: 'String', allowedPattern: '^[a-z]{1,8}$' },
      mode: {
        type: 'String',
        default: 'fast',
        allowedValues: ['fast', 'slow'],
        allowedPattern: '^(fast|slow)$',
      },
      count: { type: 'Integer', default: '2', allowedPattern: '^[0-9]+$' },
    };
    const marker = () => join(hostRoot, 'ran');
    const document = () =>
      shellDocument(`touch ${marker()}; echo '{{ name }}' '{{mode}}' '{{ count }}'`, { parameters });

    it('substitutes supplied values and defaults into the script', async () => {
      const run = await runDocument({ document: document(), hostRoot, parameters: { name: ['abc'] } });
      expect(run.stdout).toBe('abc fast 2\n');
    });

    it.each([
      ['a shell metacharacter', { name: "a';id;'" }, /name: .* does not match allowedPattern/],
      [
        'a value outside allowedValues',
        { name: 'abc', mode: 'medium' },
        /mode: "medium" is not one of fast, slow/,
      ],
      ['a non-integer Integer', { name: 'abc', count: '1e3' }, /count: "1e3" is not an Integer/],
      ['an unknown parameter', { name: 'abc', extra: 'x' }, /extra: unknown parameter/],
      ['a missing required parameter', {}, /name: required parameter is missing/],
      ['two values for a String', { name: ['abc', 'def'] }, /name: expects exactly one value/],
    ])('rejects %s before anything runs', async (_what, supplied, message) => {
      const attempt = runDocument({ document: document(), hostRoot, parameters: supplied });
      await expect(attempt).rejects.toBeInstanceOf(DocumentParameterError);
      await expect(attempt).rejects.toThrow(message);
      expect(await exists(marker())).toBe(false);
      expect(await exists(join(hostRoot, 'var'))).toBe(false);
    });

    it('refuses documents that reference undeclared or Parameter Store parameters', async () => {
      await expect(
        runDocument({ document: shellDocument('echo {{ nope }}'), hostRoot }),
      ).rejects.toBeInstanceOf(UnsupportedDocumentError);
      await expect(
        runDocument({ document: shellDocument('echo {{ssm:/rejuv/secret}}'), hostRoot }),
      ).rejects.toThrow(/Parameter Store reference/);
    });
  });
});
