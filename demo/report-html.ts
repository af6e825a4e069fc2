/**
 * The demo's HTML report: per host, a Gantt chart (SVG) of the workflow's steps, the guest pause of
 * every VM, and the audit records with their hashes. One self-contained file, no scripts, no network.
 */
import type { DemoRun, HostRun } from './demo-run.js';

const ROW_HEIGHT = 18;
const LABEL_WIDTH = 190;
const CHART_WIDTH = 640;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function gantt(run: DemoRun, host: HostRun): string {
  const end = Math.max(...host.steps.map((s) => s.endMs), run.originMs + 1);
  const scale = CHART_WIDTH / (end - run.originMs);
  const rows = host.steps.map((step, i) => {
    const x = LABEL_WIDTH + (step.startMs - run.originMs) * scale;
    const width = Math.max(2, (step.endMs - step.startMs) * scale);
    const y = i * ROW_HEIGHT;
    const ms = step.endMs - step.startMs;
    return [
      `<text x="${LABEL_WIDTH - 6}" y="${y + 13}" text-anchor="end">${escapeHtml(step.state)}</text>`,
      `<rect class="bar" data-step="${escapeHtml(step.state)}" x="${x.toFixed(1)}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW_HEIGHT - 6}"><title>${escapeHtml(step.state)}: ${ms} ms</title></rect>`,
    ].join('');
  });
  const height = host.steps.length * ROW_HEIGHT + 20;
  const seconds = ((end - run.originMs) / 1000).toFixed(1);
  return `<svg class="gantt" data-host="${escapeHtml(host.hostId)}" width="${LABEL_WIDTH + CHART_WIDTH + 20}" height="${height}" role="img" aria-label="steps of ${escapeHtml(host.hostId)}">${rows.join('')}<text x="${LABEL_WIDTH}" y="${height - 4}">0 s</text><text x="${LABEL_WIDTH + CHART_WIDTH}" y="${height - 4}" text-anchor="end">${seconds} s</text></svg>`;
}

function hostSection(run: DemoRun, host: HostRun): string {
  const vms = host.vms
    .map(
      (vm) =>
        `<tr><td>${escapeHtml(vm.vm)}</td><td>${vm.pauseMs ?? '–'}</td><td>${vm.stateBytes ?? '–'}</td><td class="${vm.rebooted ? 'bad' : 'good'}">${vm.rebooted ? 'yes' : 'no'}</td></tr>`,
    )
    .join('');
  const audit = host.auditRecords
    .map(
      (r) =>
        `<tr><td>${r.seq}</td><td>${escapeHtml(r.at)}</td><td>${escapeHtml(r.step)}</td><td>${escapeHtml(r.outcome)}</td><td>${escapeHtml(r.toState ?? '')}</td><td>${escapeHtml(r.principal)}</td><td class="hash">${escapeHtml(r.hash.slice(0, 16))}…</td></tr>`,
    )
    .join('');
  return `<section class="host">
<h2>${escapeHtml(host.hostId)} <small>${escapeHtml(host.trigger)} · ${escapeHtml(host.executionName)} · ${escapeHtml(host.status)}${host.error === undefined ? '' : ` (${escapeHtml(host.error)})`}</small></h2>
${gantt(run, host)}
<h3>Guest pause</h3>
<table class="vms"><tr><th>VM</th><th>pause (ms)</th><th>device state (bytes)</th><th>rebooted</th></tr>${vms}</table>
<h3>Audit chain <span class="${host.auditVerified ? 'good' : 'bad'}">${host.auditVerified ? 'verified' : 'BROKEN'}</span></h3>
<table class="audit"><tr><th>seq</th><th>at</th><th>step</th><th>outcome</th><th>to</th><th>principal</th><th>hash</th></tr>${audit}</table>
</section>`;
}

export function renderReport(run: DemoRun): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rejuv demo ${escapeHtml(run.startedAt)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}small{color:#667;font-weight:normal}
svg text{font:11px system-ui,sans-serif;fill:#334}.bar{fill:#2f6fdf}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccd;padding:2px 8px;text-align:left}
.good{color:#177a2c;font-weight:600}.bad{color:#b3261e;font-weight:600}.hash{font-family:monospace}
</style></head><body>
<h1>rejuv: warm-VM reboot demo</h1>
<p>Started ${escapeHtml(run.startedAt)}; ${run.hosts.length} hosts, ${run.hosts.reduce((n, h) => n + h.vms.length, 0)} VMs. Each bar is one workflow step (its states in the synthesized state machine), from the first execution's start.</p>
${run.hosts.map((h) => hostSection(run, h)).join('\n')}
</body></html>
`;
}
