/**
 * The SSM Agent kills a document's step at the step's own timeoutSeconds, whatever SendCommand's
 * TimeoutSeconds says (that one bounds the delivery only). So every deadline the construct accepts for a
 * host document (commandTimeouts: 5 s to 2 h) must become that document's step timeout on the host.
 */
import { describe, expect, it } from 'vitest';
import { loadHostDocument } from '../../../host/documents/load-host-document.js';
import {
  agentStepTimeoutSeconds,
  DEFAULT_STEP_TIMEOUT_SECONDS,
  stepTimeouts,
} from '../../../host/runner/run-document.js';
import { HOST_DOCUMENTS, withExecutionTimeout } from '../../../shared/workflow/workflow-config.js';

/** The parameters each document needs besides its deadline, as the workflow and the release send them. */
const REQUIRED: Record<(typeof HOST_DOCUMENTS)[number], Record<string, string>> = {
  Preflight: { runId: 'exec-1', level: 'vmm-process' },
  WarmReboot: { runId: 'exec-1', level: 'vmm-process' },
  Verify: { runId: 'exec-1', silentAtPreflight: '-' },
  Recover: { runId: 'exec-1' },
};

describe('Host documents: execution timeouts', () => {
  for (const document of HOST_DOCUMENTS) {
    it(`${document}: the deadline sent (5 s, 10 min, 2 h) is the step's timeout on the host`, () => {
      const { content } = loadHostDocument(document);
      for (const deadline of [5, 600, 7200]) {
        const timeouts = stepTimeouts(document, content, withExecutionTimeout(REQUIRED[document], deadline));
        expect(Object.values(timeouts)).toEqual(content.mainSteps.map(() => deadline));
      }
    });
  }
});

describe('Function: agentStepTimeoutSeconds', () => {
  it('takes 5 to 172,800 s, truncates a fraction, and gives anything else the default hour, as the agent does', () => {
    expect(agentStepTimeoutSeconds('5')).toBe(5);
    expect(agentStepTimeoutSeconds('172800')).toBe(172_800);
    expect(agentStepTimeoutSeconds('90.9')).toBe(90);
    for (const ignored of ['4', '1', '0', '-30', '172801', 'soon', ''])
      expect(agentStepTimeoutSeconds(ignored)).toBe(DEFAULT_STEP_TIMEOUT_SECONDS);
  });
});
