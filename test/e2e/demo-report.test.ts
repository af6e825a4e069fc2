import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoRun, HostRun } from '../../demo/demo-run.js';
import { renderReport } from '../../demo/report-html.js';
import { stepSpans } from '../../shared/workflow/operator-steps.js';

const REPORTS = resolve(import.meta.dirname, '..', '..', 'reports');

/** A host run as the demo records it, from the state names the synthesized workflow enters. */
function hostRun(hostId: string, originMs: number, states: string[], extra: Partial<HostRun> = {}): HostRun {
  const entered = states.map((state, i) => ({ state, atMs: originMs + i * 100 }));
  return {
    hostId,
    trigger: 'alarm',
    executionName: `alarm-${hostId}-0123456789abcdef`,
    status: 'SUCCEEDED',
    steps: stepSpans(entered, originMs + states.length * 100),
    vms: [
      { vm: 'vm1', pauseMs: 52.1, stateBytes: 319259, rebooted: false },
      { vm: 'vm2', pauseMs: 61.7, stateBytes: 319259, rebooted: false },
    ],
    auditVerified: true,
    auditRecords: [
      {
        seq: 1,
        at: '2026-11-25T03:00:00.000Z',
        step: 'Admit',
        outcome: 'succeeded',
        toState: 'ADMITTED',
        principal: 'cw',
        hash: 'a'.repeat(64),
      },
    ],
    ...extra,
  };
}

const HAPPY = [
  'Start',
  'Admit',
  'PreflightSend',
  'PreflightWait',
  'PreflightPoll',
  'PreflightDone',
  'DryRun',
  'Draining',
  'DrainStart',
  'DrainCheck',
  'DrainComplete',
  'Drained',
  'Suspending',
  'WarmRebootSend',
  'WarmRebootWait',
  'WarmRebootPoll',
  'WarmRebootDone',
  'WarmRebootWait',
  'WarmRebootPoll',
  'WarmRebootDone',
  'Reloading',
  'Resuming',
  'AwaitHostCheck',
  'HostBack',
  'Verifying',
  'VerifySend',
  'VerifyWait',
  'VerifyPoll',
  'VerifyDone',
  'Undraining',
  'Undrain',
  'BackInService',
  'Release',
  'Rejuvenated',
];
const STEPS = ['Admit', 'Preflight', 'Drain', 'WarmReboot', 'AwaitHost', 'Verify', 'Undrain', 'Release'];

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('Demo report in a browser', () => {
  it('shows one bar per workflow step per host, the guest pauses and the audit verdict', async () => {
    const originMs = Date.UTC(2026, 10, 25, 3);
    const run: DemoRun = {
      startedAt: new Date(originMs).toISOString(),
      originMs,
      hosts: [
        hostRun('host-a', originMs, HAPPY),
        hostRun('host-b <script>alert(1)</script>', originMs + 50, HAPPY, {
          trigger: 'operator',
          auditVerified: false,
        }),
      ],
    };
    await mkdir(REPORTS, { recursive: true });
    const file = join(REPORTS, 'report-test.html');
    await writeFile(file, renderReport(run));
    const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
    await page.goto(`file://${file}`);
    for (const host of run.hosts) {
      const bars = page.locator(`svg.gantt[data-host="${host.hostId}"] rect.bar`);
      expect(await bars.count()).toBe(STEPS.length);
      expect(await bars.evaluateAll((rects) => rects.map((r) => r.getAttribute('data-step')))).toEqual(STEPS);
    }
    expect(await page.locator('table.vms tr').count()).toBe(1 + 2 + 1 + 2);
    expect(await page.locator('h3 .good').allTextContents()).toEqual(['verified']);
    expect(await page.locator('h3 .bad').allTextContents()).toEqual(['BROKEN']);
    // The hostile host name is shown as text, never run.
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('h2').nth(1).textContent()).toContain('<script>');
    await page.screenshot({ path: join(REPORTS, 'report-test.png'), fullPage: true });
    await page.close();
  });
});
