/**
 * A self-contained HTML report (inline SVG, no scripts, no CDN) written next to the run's JSON: latency
 * distributions as percentile curves, throughput and CPU as bars, and every scenario's table.
 */
import { writeFileSync } from 'node:fs';
import { Histogram, type HistogramJson } from './histogram.js';
import type { ClusterResult } from './cluster.js';
import type { Goal } from './goals.js';
import { spread, type Row } from './report.js';
import { overheadOf, p99VsSolo, pairedRatioText, type Point } from './scenarios.js';

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#9c755f'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (v: number, digits = 0): string => v.toLocaleString('en-US', { maximumFractionDigits: digits });

interface Series {
  name: string;
  value: number | null;
  /** Optional stacked parts that sum to value. */
  parts?: { name: string; value: number }[];
  /** Spread of the samples behind a median, drawn as a whisker. */
  range?: [number, number] | null;
}

/** Grouped horizontal bars: one group per label, one bar per series. */
function bars(title: string, unit: string, groups: { label: string; series: Series[] }[]): string {
  const all = groups.flatMap((g) => g.series.flatMap((s) => [s.value ?? 0, s.range?.[1] ?? 0]));
  const max = Math.max(1e-9, ...all);
  const barH = 16;
  const labelW = 190;
  const plotW = 520;
  let y = 28;
  const parts: string[] = [];
  const names = [...new Set(groups.flatMap((g) => g.series.map((s) => s.name)))];
  for (const g of groups) {
    parts.push(`<text x="4" y="${y + 12}" font-weight="bold">${esc(g.label)}</text>`);
    y += 18;
    for (const s of g.series) {
      const color = COLORS[names.indexOf(s.name) % COLORS.length];
      parts.push(`<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(s.name)}</text>`);
      if (s.value === null) {
        parts.push(`<text x="${labelW + 4}" y="${y + 12}" fill="#c00">no data</text>`);
      } else if (s.parts?.length) {
        let x = labelW;
        s.parts.forEach((p, i) => {
          const w = (Math.max(0, p.value) / max) * plotW;
          parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${barH}" fill="${color}" fill-opacity="${1 - i * 0.3}"><title>${esc(`${p.name}: ${num(p.value, 1)} ${unit}`)}</title></rect>`);
          x += w;
        });
        parts.push(`<text x="${x + 4}" y="${y + 12}">${num(s.value, 1)} ${esc(unit)} (${s.parts.map((p) => `${p.name} ${num(p.value, 1)}`).join(' / ')})</text>`);
      } else {
        const w = (Math.max(0, s.value) / max) * plotW;
        parts.push(`<rect x="${labelW}" y="${y}" width="${w}" height="${barH}" fill="${color}"/>`);
        const digits = s.value < 10 ? 2 : 0;
        let end = labelW + w;
        let spreadText = '';
        if (s.range) {
          const [x0, x1] = s.range.map((v) => labelW + (Math.max(0, v) / max) * plotW);
          parts.push(`<line x1="${x0}" x2="${x1}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#000"/><line x1="${x0}" x2="${x0}" y1="${y + 3}" y2="${y + barH - 3}" stroke="#000"/><line x1="${x1}" x2="${x1}" y1="${y + 3}" y2="${y + barH - 3}" stroke="#000"/>`);
          end = Math.max(end, x1);
          spreadText = ` (min–max ${num(s.range[0], digits)}–${num(s.range[1], digits)})`;
        }
        parts.push(`<text x="${end + 4}" y="${y + 12}">${num(s.value, digits)} ${esc(unit)}${esc(spreadText)}</text>`);
      }
      y += barH + 4;
    }
    y += 6;
  }
  const height = y + 4;
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 260}" height="${height}" font-family="sans-serif" font-size="12">
<text x="4" y="16" font-size="14" font-weight="bold">${esc(title)}</text>${parts.join('')}</svg></figure>`;
}

const PCTS = [0, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100];

/** Latency distribution: one curve per histogram, x = percentile (categorical, tail-stretched), y = µs (log). */
function percentiles(title: string, curves: { name: string; hist: HistogramJson | undefined }[]): string {
  const data = curves
    .filter((c) => c.hist && c.hist.count > 0)
    .map((c) => {
      const h = Histogram.fromJSON(c.hist!);
      return { name: c.name, ys: PCTS.map((p) => (p === 0 ? h.toJSON().minUs ?? 1 : h.percentile(p) ?? 1)) };
    });
  if (!data.length) return '';
  const W = 640;
  const H = 300;
  const L = 70;
  const T = 30;
  const B = 40;
  const values = data.flatMap((d) => d.ys).map((v) => Math.max(1, v));
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.ceil(Math.log10(Math.max(...values)) + 1e-9) || lo + 1;
  const x = (i: number): number => L + (i / (PCTS.length - 1)) * (W - L - 20);
  const y = (v: number): number => T + (H - T - B) * (1 - (Math.log10(Math.max(1, v)) - lo) / Math.max(1, hi - lo));
  const grid: string[] = [];
  for (let e = lo; e <= hi; e++) {
    const label = e >= 6 ? `${10 ** (e - 6)} s` : e >= 3 ? `${10 ** (e - 3)} ms` : `${10 ** e} µs`;
    grid.push(`<line x1="${L}" x2="${W - 20}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/><text x="${L - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${label}</text>`);
  }
  PCTS.forEach((p, i) => grid.push(`<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle">${p === 0 ? 'min' : p === 100 ? 'max' : `p${p}`}</text>`));
  const lines = data.map((d, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = d.ys.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const dots = d.ys.map((v, i) => `<circle cx="${x(i)}" cy="${y(v)}" r="2.5" fill="${color}"><title>${esc(`${d.name} ${PCTS[i]}: ${num(v)} µs`)}</title></circle>`).join('');
    return `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>${dots}<rect x="${W - 190}" y="${T + k * 16}" width="10" height="10" fill="${color}"/><text x="${W - 175}" y="${T + 9 + k * 16}">${esc(d.name)}</text>`;
  });
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<text x="4" y="16" font-size="14" font-weight="bold">${esc(title)}</text>${grid.join('')}${lines.join('')}</svg></figure>`;
}

function htmlTable(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cell = (v: string | number | null | undefined): string =>
    v === null || v === undefined ? '–' : typeof v === 'number' ? (Number.isFinite(v) ? num(v, Math.abs(v) < 10 ? 2 : 0) : '–') : esc(v);
  return `<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`).join('')}</table>`;
}

interface RunResult {
  options: unknown;
  machine: Record<string, unknown>;
  summary: Record<string, unknown>;
  goals: Goal[];
  rows: Record<string, Row[]>;
  scenarios: Partial<Record<string, Point[]>>;
  cluster?: ClusterResult;
}

/** Cluster mode: CPU per request stacked by thread class, req/s, and the 2 ÷ 1 ratios, per thread count. */
function clusterSection(cluster: ClusterResult | undefined): string {
  if (!cluster) return '';
  const label = (r: ClusterResult['rows'][number]): string => `threads ${r.threads}`;
  const groups = [...new Set(cluster.rows.map(label))];
  const cpu = bars('cluster: CPU per request of the whole tree (µs, median of the repetitions; whisker = min–max)', 'µs', groups.map((g) => ({
    label: g,
    series: cluster.rows.filter((r) => label(r) === g).map((r) => ({
      name: `${r.processes} process(es)`, value: r.cpuTree.median, range: r.cpuTree.range,
      parts: (['front', 'workers', 'other', 'supervisor'] as const).map((name) => ({ name, value: r[name].median ?? 0 })),
    })),
  })));
  const rps = bars('cluster: req/s (median of the repetitions; whisker = min–max; the generator and the mock share the cores)', 'req/s', groups.map((g) => ({
    label: g, series: cluster.rows.filter((r) => label(r) === g).map((r) => ({ name: `${r.processes} process(es)`, value: r.rps.median, range: r.rps.range })),
  })));
  const table = htmlTable(['processes', 'threads', 'reps', 'req/s', 'CPU µs/req, tree', 'per process', 'front', 'workers', 'other', 'supervisor', 'mock', 'machine', 'non-2xx', 'errors', 'other CPU % (max)', 'failure'],
    cluster.rows.map((r) => [r.processes, r.threads, r.reps, r.rps.median, r.cpuTree.median, r.perProcess.median, r.front.median, r.workers.median, r.other.median,
      r.supervisor.median, r.mock.median, r.machine.median, r.non2xx, r.errors, r.maxOtherCpuPercent, r.failed]));
  const ratios = htmlTable(['threads', 'processes', 'req/s ratio', 'CPU/req ratio (tree)', 'CPU/req per process ratio (goal ≤ 1.05)'],
    cluster.comparisons.map((c) => [c.threads, `${c.processes[1]} ÷ ${c.processes[0]}`, c.rpsRatio, c.cpuTreeRatio, c.perProcessRatio]));
  return `<h2>cluster</h2>${cpu}${rps}${table}${ratios}`;
}

function throughputSection(rows: Record<string, Row[]>): string {
  const modes = Object.keys(rows);
  if (!modes.length) return '';
  const rps = bars('Saturation throughput (2xx/s, median of every sample; whisker = min–max)', 'req/s', modes.map((m) => ({ label: m, series: rows[m].map((r) => ({ name: r.target, value: r.rps, range: r.rpsRange })) })));
  const cpu = bars('CPU per request of the process under test (µs; main / workers / other)', 'µs', modes.map((m) => ({
    label: m,
    series: rows[m].map((r) => ({
      name: r.target,
      value: r.cpu?.total ?? null,
      parts: r.cpu ? [{ name: 'main', value: r.cpu.main }, { name: 'workers', value: r.cpu.workers }, { name: 'other', value: r.cpu.other }] : undefined,
    })),
  })));
  const table = modes.map((m) => `<h3>${esc(m)}</h3>${htmlTable(
    ['target', 'samples', 'RPS', 'RPS min–max', 'p50 ms', 'p99 ms', 'CPU µs/req', 'CPU min–max', 'non-2xx', 'errors', 'peak RSS MiB', 'max other CPU %', 'failed'],
    rows[m].map((r) => [r.target, r.runs, r.rps, spread(r.rpsRange), r.p50Ms, r.p99Ms, r.cpu?.total ?? null, spread(r.cpuRange, 1), r.non2xx, r.errors, r.peakRssMiB, r.maxOtherCpuPercent, r.failed ?? '']),
  )}`).join('');
  return `<h2>Throughput (closed loop, saturation)</h2>${rps}${cpu}${table}`;
}

function variantsOf(points: Point[]): string[] {
  return [...new Set(points.map((p) => p.variant))];
}

function scenarioSection(name: string, points: Point[] | undefined): string {
  if (!points?.length) return '';
  const variants = variantsOf(points);
  const stream = name === 'streaming';
  const figures: string[] = [];
  for (const v of variants) {
    const ps = points.filter((p) => p.variant === v);
    figures.push(percentiles(`${name} ${v}: ${stream ? 'time to first byte' : 'latency'} distribution`, ps.map((p) => ({ name: p.target, hist: stream ? p.load?.ttfbHist : p.load?.hist }))));
    if (stream) figures.push(percentiles(`${name} ${v}: gap between chunks`, ps.map((p) => ({ name: p.target, hist: p.load?.gapHist }))));
  }
  const key = stream ? 'ttfbUs' : 'latencyUs';
  figures.push(bars(`${name}: p50 / p99 ${stream ? 'TTFB' : 'latency'} (µs)`, 'µs', variants.flatMap((v) => [
    { label: `${v} p50`, series: points.filter((p) => p.variant === v).map((p) => ({ name: p.target, value: p[key]?.p50 ?? null })) },
    { label: `${v} p99`, series: points.filter((p) => p.variant === v).map((p) => ({ name: p.target, value: p[key]?.p99 ?? null })) },
  ])));
  figures.push(bars(`${name}: CPU per ${stream ? 'stream' : 'request'} of the process under test (µs)`, 'µs', variants.map((v) => ({
    label: v, series: points.filter((p) => p.variant === v && p.target !== 'direct').map((p) => ({ name: p.target, value: p.cpuUsPerRequest ?? null })),
  }))));
  const table = htmlTable(
    ['variant', 'target', 'ok/s', 'success', 'p50 µs', 'p90 µs', 'p99 µs', 'p99.9 µs', 'overhead p50', 'overhead p99', 'TTFB p50', 'TTFB p99', 'TTFB overhead p50', 'gap mean', 'gap overhead', 'p99 ÷ solo', 'paired p99 ÷ solo', 'CPU µs/req', 'non-2xx', 'errors', 'other CPU %', 'error / note'],
    points.map((p) => [p.variant, p.target, p.load ? p.load.ok / p.load.durationS : null, p.successRate == null ? null : `${(p.successRate * 100).toFixed(2)}%`,
      p.latencyUs?.p50, p.latencyUs?.p90, p.latencyUs?.p99, p.latencyUs?.['p99.9'], overheadOf(points, p, 'p50'), overheadOf(points, p, 'p99'),
      p.ttfbUs?.p50, p.ttfbUs?.p99, overheadOf(points, p, 'p50', 'ttfbUs'), p.gapUs?.mean, overheadOf(points, p, 'mean', 'gapUs'), p99VsSolo(points, p),
      p.pairedP99Ratio ? pairedRatioText(p.pairedP99Ratio) : null,
      p.cpuUsPerRequest, p.load?.non2xx, p.load?.errors, p.otherCpuPercent, [p.error?.split('\n')[0], p.note].filter(Boolean).join(' ')]),
  );
  return `<h2>${esc(name)}</h2>${figures.join('')}${table}`;
}

export function writeHtmlReport(path: string, result: RunResult): void {
  const s = result.summary;
  const sections = [throughputSection(result.rows), ...['overhead', 'streaming', 'isolation', 'bifrost'].map((n) => scenarioSection(n, result.scenarios[n])),
    clusterSection(result.cluster)];
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Heimdall bench ${esc(String(s.results ?? ''))}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;margin:8px 0 24px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td:first-child,td:nth-child(2){text-align:left}
figure{margin:12px 0}pre{background:#f8f8f8;padding:8px;overflow:auto;font-size:12px}</style></head><body>
<h1>Heimdall benchmark</h1>
<p>${esc(new Date().toISOString())}. Compare ratios within this run; absolute numbers hold only for this machine and day.
A measurement is NOISY when unrelated processes used more than 5 % of a core during it.</p>
<h2>Goals</h2><p>Reported, not asserted. NOISY: unrelated processes took more than 5 % of a core during a measurement behind the figure.
HOST-BOUND: the same loads with no gateway at all missed the goal too, so this machine cannot show it.</p>
${htmlTable(['goal', 'verdict', 'figure'], result.goals.map((g) => [g.goal, g.met === null ? 'not measured' : g.met ? 'met' : 'NOT MET', `${g.figure}${g.noisy ? ' NOISY' : ''}${g.hostBound ? ' HOST-BOUND' : ''}`]))}
<h2>Summary</h2><pre>${esc(JSON.stringify(s, null, 2))}</pre>
${sections.join('\n')}
<h2>Machine and options</h2><pre>${esc(JSON.stringify({ machine: result.machine, options: result.options }, null, 2))}</pre>
</body></html>
`;
  writeFileSync(path, html);
}
