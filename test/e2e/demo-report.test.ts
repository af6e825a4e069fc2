import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgingRun, DemoRun, HostRun } from '../../demo/demo-run.js';
import { parseEvidence } from '../../demo/aging-segment.js';
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

  it('shows the aging segment: the leaking VM series, the prediction with its evidence, and the fall after', async () => {
    const originMs = Date.UTC(2026, 10, 25, 3);
    const series = Array.from({ length: 20 }, (_, i) => ({
      t: originMs + i * 1500,
      rssBytes: (i < 15 ? 200 + 3 * i : 110 + i) * 2 ** 20,
    }));
    // The reason exactly as predict-fleet.ts writes it.
    const reason =
      "predicted exhaustion of qemuRss:vm1 at 2026-11-25T03:09:41.000Z (horizon 0.01042 d): Mann-Kendall S 105, Z 5.2, p 9.96e-8 (Hamed-Rao n/n* 1.3); Sen's slope 2.6e+11/day, 95% bound 2.9e+11/day; level 2.4e+8, limit 1.07e+9; 15 points over the window";
    const aging: AgingRun = {
      hostId: 'host-c',
      vm: 'vm1',
      settings: 'settings at demo speed',
      series,
      firedAtMs: (series[14] as { t: number }).t,
      executionName: 'predictive-host-c-0123456789abcdef',
      status: 'SUCCEEDED',
      reason,
      evidence: parseEvidence(reason),
      rssAtFireBytes: 242 * 2 ** 20,
      rssAfterBytes: 129 * 2 ** 20,
      fellBack: true,
    };
    expect(aging.evidence).toEqual({
      series: 'qemuRss:vm1',
      s: 105,
      z: 5.2,
      p: 9.96e-8,
      slopePerDay: 2.6e11,
      projectedExhaustionAt: '2026-11-25T03:09:41.000Z',
    });
    const run: DemoRun = {
      startedAt: new Date(originMs).toISOString(),
      originMs,
      hosts: [hostRun('host-c', originMs, HAPPY, { trigger: 'predictive' })],
      aging,
    };
    await mkdir(REPORTS, { recursive: true });
    const file = join(REPORTS, 'report-aging-test.html');
    await writeFile(file, renderReport(run));
    const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
    await page.goto(`file://${file}`);
    const section = page.locator('section.aging[data-host="host-c"]');
    expect(await section.getAttribute('data-fell-back')).toBe('true');
    expect(await section.locator('svg.rss-chart circle.rss').count()).toBe(series.length);
    expect(await section.locator('svg.rss-chart line.fired').count()).toBe(1);
    const evidence = Object.fromEntries(
      await section
        .locator('table.evidence tr')
        .evaluateAll((rows) =>
          rows.map((r) => [r.querySelector('th')?.textContent, r.querySelector('td')?.textContent]),
        ),
    );
    expect(evidence).toMatchObject({
      series: 'qemuRss:vm1',
      'Mann-Kendall S': '105',
      p: '9.96e-8',
      'RSS when predicted (MiB)': '242.0',
      'RSS after (MiB)': '129.0',
    });
    expect(await section.locator('h3 .good').textContent()).toBe('fell back');
    expect(await page.locator('section.host h2 small').textContent()).toContain('predictive');
    await page.screenshot({ path: join(REPORTS, 'report-aging-test.png'), fullPage: true });
    await page.close();
  });
});
