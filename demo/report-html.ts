/**
 * The demo's HTML report: per host, a Gantt chart (SVG) of the workflow's steps, the guest pause of
 * every VM, and the audit records with their hashes; and the aging segment's memory series (SVG) with the
 * prediction's evidence. One self-contained file, no scripts, no network.
 */
import type { AgingRun, DemoRun, HostRun } from './demo-run.js';

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

const mib = (bytes: number | null) => (bytes === null ? '–' : (bytes / 2 ** 20).toFixed(1));

/** The leaking VM's RSS per round: one dot each, a line at the prediction. */
function rssChart(aging: AgingRun): string {
  const width = CHART_WIDTH;
  const height = 160;
  const ts = aging.series.map((p) => p.t);
  const vs = aging.series.map((p) => p.rssBytes);
  if (ts.length === 0) return '';
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts, t0 + 1);
  const v0 = Math.min(...vs) * 0.95;
  const v1 = Math.max(...vs, v0 + 1) * 1.02;
  const x = (t: number) => LABEL_WIDTH + ((t - t0) / (t1 - t0)) * width;
  const y = (v: number) => 10 + (1 - (v - v0) / (v1 - v0)) * (height - 30);
  const dots = aging.series
    .map(
      (p) =>
        `<circle class="rss" cx="${x(p.t).toFixed(1)}" cy="${y(p.rssBytes).toFixed(1)}" r="2.5"><title>${mib(p.rssBytes)} MiB</title></circle>`,
    )
    .join('');
  const fired =
    aging.firedAtMs === undefined
      ? ''
      : `<line class="fired" x1="${x(aging.firedAtMs).toFixed(1)}" x2="${x(aging.firedAtMs).toFixed(1)}" y1="0" y2="${height - 20}"/><text x="${(x(aging.firedAtMs) + 4).toFixed(1)}" y="12">predicted</text>`;
  return `<svg class="rss-chart" data-host="${escapeHtml(aging.hostId)}" width="${LABEL_WIDTH + width + 20}" height="${height}" role="img" aria-label="QEMU RSS of ${escapeHtml(aging.hostId)}/${escapeHtml(aging.vm)}"><text x="${LABEL_WIDTH - 6}" y="${y(v1).toFixed(1)}" text-anchor="end">${mib(v1)} MiB</text><text x="${LABEL_WIDTH - 6}" y="${y(v0).toFixed(1)}" text-anchor="end">${mib(v0)} MiB</text>${dots}${fired}<text x="${LABEL_WIDTH}" y="${height - 4}">0 s</text><text x="${LABEL_WIDTH + width}" y="${height - 4}" text-anchor="end">${((t1 - t0) / 1000).toFixed(1)} s</text></svg>`;
}

function agingSection(aging: AgingRun): string {
  const e = aging.evidence;
  const row = (name: string, value: string | number | null) =>
    `<tr><th>${name}</th><td>${escapeHtml(value === null ? '–' : String(value))}</td></tr>`;
  return `<section class="aging" data-host="${escapeHtml(aging.hostId)}" data-fell-back="${aging.fellBack}">
<h2>Aging: ${escapeHtml(aging.hostId)}/${escapeHtml(aging.vm)} <small>predictive · ${escapeHtml(aging.executionName)} · ${escapeHtml(aging.status)}</small></h2>
<p>${escapeHtml(aging.settings)}</p>
${rssChart(aging)}
<table class="evidence">${row('series', e.series)}${row('Mann-Kendall S', e.s)}${row('Z', e.z)}${row('p', e.p)}${row("Sen's slope (bytes/day)", e.slopePerDay)}${row('projected exhaustion', e.projectedExhaustionAt)}${row('RSS when predicted (MiB)', mib(aging.rssAtFireBytes))}${row('RSS after (MiB)', mib(aging.rssAfterBytes))}</table>
<h3>Memory after the rejuvenation <span class="${aging.fellBack ? 'good' : 'bad'}">${aging.fellBack ? 'fell back' : 'did not fall back'}</span></h3>
<p class="reason">${escapeHtml(aging.reason)}</p>
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
.rss{fill:#b3261e}.fired{stroke:#334;stroke-dasharray:4 3}
.good{color:#177a2c;font-weight:600}.bad{color:#b3261e;font-weight:600}.hash{font-family:monospace}
</style></head><body>
<h1>rejuv: warm-VM reboot demo</h1>
<p>Started ${escapeHtml(run.startedAt)}; ${run.hosts.length} hosts, ${run.hosts.reduce((n, h) => n + h.vms.length, 0)} VMs. Each bar is one workflow step (its states in the synthesized state machine), from the first execution's start.</p>
${run.hosts.map((h) => hostSection(run, h)).join('\n')}
${run.aging === undefined ? '' : agingSection(run.aging)}
</body></html>
`;
}
