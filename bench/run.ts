// `npm run bench`: runs every suite in order, writes bench/results/<suite>.json
// (temp file + rename) and bench/results/REPORT.md. Every speed figure is a
// ratio against a baseline measured in the same run, on the same machine.
// Usage: node dist/bench/run.js [suite ...]   (default: all)
//        node dist/bench/run.js --report     (only rewrite REPORT.md from the JSON files)
// FUSEDET_BENCH_OUT=DIR writes there instead of bench/results (trial runs).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execSync } from 'node:child_process';
import { writeFileAtomicSync } from '../io/files.js';

/** One compared figure: ours vs a baseline measured in the same run. */
export interface BenchRow {
  what: string;
  ours: number;
  baseline: number | null;
  baselineName: string;
  unit: string;
  /** How many times better ours is (baseline / ours for times); null without a baseline. */
  ratio: number | null;
  target?: string;
  notes?: string[];
}

export interface BenchSuite {
  name: string;
  title: string;
  run(): Promise<{ rows: BenchRow[]; raw: unknown; notes: string[] }>;
}

function machine(): Record<string, string | number> {
  let compiler = 'unknown';
  try { compiler = execSync('cc --version', { encoding: 'utf8' }).split('\n')[0]; } catch { /* reported as unknown */ }
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, compiler, date: new Date().toISOString() };
}

async function suites(): Promise<BenchSuite[]> {
  const { evalSuite } = await import('./eval-suite.js');
  const { cpuSuite } = await import('./cpu-suite.js');
  const { webgpuSuite } = await import('./webgpu-suite.js');
  const { compileSuite } = await import('./compile-suite.js');
  const { trainSuite } = await import('./train-suite.js');
  const { matchSuite } = await import('./match-suite.js');
  const { detectSuite } = await import('./detect-suite.js');
  const { apiSuite } = await import('./api-suite.js');
  const { launchSuite } = await import('./launch-suite.js');
  const { nmsSuite } = await import('./nms-suite.js');
  return [evalSuite, cpuSuite, webgpuSuite, compileSuite, trainSuite, launchSuite, matchSuite, nmsSuite, detectSuite, apiSuite];
}

const reportOnly = process.argv.includes('--report');
const wanted = process.argv.slice(2).filter((a) => a !== '--report');
const all = await suites();
const unknown = wanted.filter((w) => !all.some((s) => s.name === w));
if (unknown.length) {
  process.stderr.write(`bench: unknown suite(s) ${unknown.join(', ')}; suites: ${all.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const OUT = process.env.FUSEDET_BENCH_OUT || 'bench/results';
mkdirSync(OUT, { recursive: true });
const m = machine();
for (const s of reportOnly ? [] : all.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  process.stdout.write(`\n== ${s.title}\n`);
  const r = await s.run();
  writeFileAtomicSync(`${OUT}/${s.name}.json`, JSON.stringify({ suite: s.name, title: s.title, machine: m, ...r }, null, 2) + '\n', { what: 'bench results' });
  for (const row of r.rows) process.stdout.write(rowLine(row) + '\n');
  for (const n of r.notes) process.stdout.write(`NOTICE: ${n}\n`);
}
writeFileAtomicSync(`${OUT}/REPORT.md`, report(all), { what: 'report' });
// bench/REPORT.md with PNG plots (bench/report.ts), from the same JSON files.
await (await import('./report.js')).writeReport(OUT, process.env.FUSEDET_BENCH_OUT ? OUT : 'bench');
process.stdout.write(`\nwrote ${OUT}/*.json and ${OUT}/REPORT.md\n`);

function rowLine(row: BenchRow): string {
  const fmt = (v: number | null): string => (v === null || Number.isNaN(v) ? 'n/a' : `${v.toPrecision(4)} ${row.unit}`);
  return `| ${row.what} | ${fmt(row.ours)} | ${row.baseline === null ? 'n/a' : `${fmt(row.baseline)} (${row.baselineName})`} | ${row.ratio === null ? 'n/a' : `${row.ratio.toFixed(2)}×`} | ${row.target ?? ''} |`;
}

/** REPORT.md from every suite's latest JSON, so running one suite keeps the others' figures. */
function report(suites: BenchSuite[]): string {
  const out: string[] = ['# fusedet benchmarks', '', 'Each section is the latest run of one suite (`npm run bench [suite]`); every ratio compares with a baseline measured in that same run, on the machine named.', ''];
  for (const s of suites) {
    const path = `${OUT}/${s.name}.json`;
    if (!existsSync(path)) continue;
    const r = JSON.parse(readFileSync(path, 'utf8')) as { title: string; machine: Record<string, string | number>; rows: BenchRow[]; notes: string[] };
    const mm = r.machine;
    out.push(`## ${r.title}`, '', `${mm.cpu}, ${mm.cores} cores, ${mm.memGiB} GiB, Node ${mm.node}, ${mm.compiler}; run ${mm.date}.`, '');
    out.push('| what | fusedet | baseline | ratio | target |', '| --- | --- | --- | --- | --- |');
    for (const row of r.rows) out.push(rowLine(row));
    for (const n of r.notes) out.push('', `- ${n}`);
    out.push('');
  }
  return out.join('\n') + '\n';
}
