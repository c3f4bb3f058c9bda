// `npm run bench -- --report`: bench/REPORT.md with one PNG plot per
// comparison (bench/plots/*.png), rendered from bench/results/*.json — the
// latest run of each suite, never re-measured here. Each figure says the
// command that measured it, the machine, and the results file(s) its rows
// came from; a comparison without rows yet says which suite would make them.
//
// A figure gathers rows by their description or baseline name (FIGURES), so a
// new suite's rows land in the right figure without touching this file:
// e.g. the onnxruntime-node comparison (issue 15; a suite writing rows whose
// baselineName names "onnxruntime-node") fills the "vs onnxruntime-node"
// figure as soon as its bench/results/<suite>.json exists.
//
// Usage: node dist/bench/report.js [resultsDir] [outDir]   (defaults bench/results, bench)
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas } from '@napi-rs/canvas';
import { writeFileAtomic } from '../io/files.js';
import type { BenchRow } from './run.js';

export interface SuiteResult { file: string; suite: string; title: string; machine: Record<string, string | number>; rows: BenchRow[]; notes: string[] }

export interface FigureSpec {
  id: string;
  title: string;
  /** Which rows belong here (any suite). */
  match(row: BenchRow, suite: SuiteResult): boolean;
  /** What to run when no results file has such rows yet. */
  missing: string;
}

const base = (r: BenchRow): string => r.baselineName.toLowerCase();
export const FIGURES: FigureSpec[] = [
  { id: 'defcn-vs-fcos', title: 'DeFCN (no NMS) vs FCOS + NMS, per runtime', match: (r) => /defcn/i.test(r.what) && /fcos/i.test(`${r.what} ${r.baselineName}`), missing: 'npm run bench detect' },
  { id: 'max3d-fused', title: 'Fused 3D max filtering vs the unfused composition', match: (r) => /max3d|3dmf/i.test(r.what), missing: 'npm run bench cpu webgpu' },
  { id: 'assignment', title: 'One-to-one assignment on the device vs scipy', match: (r) => /scipy/.test(base(r)) || /assign|match/i.test(r.what) && /scipy|hungarian|linear_sum/i.test(`${r.what} ${r.baselineName}`), missing: 'npm run bench match' },
  { id: 'vs-pytorch', title: 'vs PyTorch (same network, same machine)', match: (r) => /pytorch|torch/.test(base(r)), missing: 'npm run bench cpu train' },
  { id: 'vs-onnxruntime', title: 'vs onnxruntime-node (same network exported to ONNX, CPU)', match: (r, s) => /onnxruntime/.test(base(r)) && s.suite !== 'api', missing: 'npm run bench cpu' },
  // Issue 15's must-show: the public API's per-image latency, network part and end to end (bench/api-suite.ts).
  { id: 'api-vs-onnxruntime', title: 'Detection API vs onnxruntime-node, same network and weights: network and end to end', match: (_r, s) => s.suite === 'api', missing: 'npm run bench api' },
  { id: 'vs-tfjs', title: 'vs TensorFlow.js (wasm, WebGPU)', match: (r) => /tfjs|tensorflow/.test(base(r)), missing: 'npm run bench cpu webgpu' },
];

export function readResults(dir: string): SuiteResult[] {
  if (!existsSync(dir)) return [];
  const out: SuiteResult[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const path = join(dir, f);
    let v: Partial<SuiteResult>;
    try { v = JSON.parse(readFileSync(path, 'utf8')) as Partial<SuiteResult>; } catch (e) {
      process.stderr.write(`bench report: ${path}: not JSON (${(e as Error).message}); left out\n`);
      continue;
    }
    // Only suite results (bench/run.ts's shape); other JSON there (raw dumps) is not a table of rows.
    if (!Array.isArray(v.rows) || typeof v.suite !== 'string') continue;
    out.push({ file: path, suite: v.suite, title: v.title ?? v.suite, machine: v.machine ?? {}, rows: v.rows, notes: v.notes ?? [] });
  }
  return out;
}

const short = (s: string, n = 64): string => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** A horizontal bar per row: how many times better fusedet is than the row's baseline (log scale, line at 1×). */
export async function plotRatios(title: string, rows: { label: string; ratio: number }[]): Promise<Buffer> {
  const W = 1060, barH = 26, top = 56, left = 560, right = 90;
  const H = top + rows.length * (barH + 10) + 46;
  const c = createCanvas(W, H);
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = '#111'; ctx.font = 'bold 17px sans-serif'; ctx.fillText(short(title, 90), 16, 28);
  ctx.font = '12px sans-serif'; ctx.fillStyle = '#555';
  ctx.fillText('times better than the baseline (log scale; right of the line: fusedet is ahead)', 16, 46);
  const ratios = rows.map((r) => r.ratio);
  const lo = Math.min(0.5, ...ratios) / 1.2, hi = Math.max(2, ...ratios) * 1.2;
  const x = (v: number): number => left + ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (W - left - right);
  rows.forEach((r, i) => {
    const y = top + i * (barH + 10);
    ctx.fillStyle = '#222'; ctx.font = '12px sans-serif';
    ctx.fillText(short(r.label, 86), 16, y + barH * 0.68);
    const x0 = x(1), x1 = x(r.ratio);
    ctx.fillStyle = r.ratio >= 1 ? '#2e9d5b' : '#e08a1e';
    ctx.fillRect(Math.min(x0, x1), y, Math.max(2, Math.abs(x1 - x0)), barH);
    ctx.fillStyle = '#111'; ctx.font = 'bold 13px sans-serif';
    ctx.fillText(`${r.ratio.toFixed(2)}×`, Math.max(x0, x1) + 6, y + barH * 0.68);
  });
  const yEnd = top + rows.length * (barH + 10);
  ctx.strokeStyle = '#333'; ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(x(1), top - 6); ctx.lineTo(x(1), yEnd); ctx.stroke();
  ctx.font = '11px sans-serif'; ctx.fillStyle = '#555';
  for (const t of [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64].filter((t) => t >= lo && t <= hi)) ctx.fillText(`${t}×`, x(t) - 8, yEnd + 16);
  return c.encode('png');
}

function machineLine(m: Record<string, string | number>): string {
  return `${m.cpu ?? 'unknown CPU'}, ${m.cores ?? '?'} cores, ${m.memGiB ?? '?'} GiB, Node ${m.node ?? '?'}${m.compiler ? `, ${m.compiler}` : ''}${m.gpu ? `, ${m.gpu}` : ''}; run ${m.date ?? 'at an unknown date'}`;
}

const fmt = (v: number | null, unit: string): string => (v === null || Number.isNaN(v) ? 'n/a' : `${v.toPrecision(4)} ${unit}`);

/** Writes outDir/REPORT.md and outDir/plots/<figure>.png; returns the markdown. */
export async function writeReport(resultsDir: string, outDir: string): Promise<string> {
  const results = readResults(resultsDir);
  mkdirSync(join(outDir, 'plots'), { recursive: true });
  const rel = (p: string): string => relative(resolve(outDir), resolve(p)) || basename(p);
  const md: string[] = ['# fusedet benchmark report', '',
    `Rendered by \`npm run bench -- --report\` from ${results.length ? results.map((r) => `\`${r.file}\``).join(', ') : 'no results files'}; nothing is measured while rendering.`,
    'Every ratio compares fusedet with a baseline measured in the same run on the same machine: above 1× fusedet is faster (or smaller).', ''];
  for (const f of FIGURES) {
    const hits = results.flatMap((s) => s.rows.filter((r) => r.ratio !== null && Number.isFinite(r.ratio) && r.ratio > 0 && f.match(r, s)).map((r) => ({ s, r })));
    md.push(`## ${f.title}`, '');
    if (hits.length === 0) { md.push(`Not measured yet: no results file has these rows (\`${f.missing}\` makes them).`, ''); continue; }
    const png = join(outDir, 'plots', `${f.id}.png`);
    await writeFileAtomic(png, await plotRatios(f.title, hits.map(({ r }) => ({ label: r.what, ratio: r.ratio! }))), { what: 'plot' });
    md.push(`![${f.title}](${rel(png)})`, '');
    md.push('| what | fusedet | baseline | ratio |', '| --- | --- | --- | --- |');
    for (const { r } of hits) md.push(`| ${r.what} | ${fmt(r.ours, r.unit)} | ${fmt(r.baseline, r.unit)} (${r.baselineName}) | ${r.ratio!.toFixed(2)}× |`);
    md.push('');
    for (const s of [...new Set(hits.map((h) => h.s))]) {
      md.push(`- command: \`npm run bench ${s.suite}\`; results: \`${rel(s.file)}\`; machine: ${machineLine(s.machine)}.`);
    }
    md.push('');
  }
  md.push('## Every suite', '');
  for (const s of results) {
    md.push(`### ${s.title}`, '', `\`npm run bench ${s.suite}\` → \`${rel(s.file)}\`; ${machineLine(s.machine)}.`, '', '| what | fusedet | baseline | ratio | target |', '| --- | --- | --- | --- | --- |');
    for (const r of s.rows) md.push(`| ${r.what} | ${fmt(r.ours, r.unit)} | ${r.baseline === null ? 'n/a' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`} | ${r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`} | ${r.target ?? ''} |`);
    for (const n of s.notes) md.push('', `- ${n}`);
    md.push('');
  }
  const text = md.join('\n');
  await writeFileAtomic(join(outDir, 'REPORT.md'), text, { what: 'report' });
  return text;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [resultsDir = 'bench/results', outDir = 'bench'] = process.argv.slice(2);
  await writeReport(resultsDir, outDir);
  process.stdout.write(`wrote ${join(outDir, 'REPORT.md')} and ${join(outDir, 'plots')}/*.png\n`);
}
