// `npm run bench`: runs every suite in order, writes bench/results/<suite>.json
// (temp file + rename) and bench/results/REPORT.md. Every speed figure is a
// ratio against a baseline measured in the same run, on the same machine.
// Usage: node dist/bench/run.js [suite ...]   (default: all)
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execSync } from 'node:child_process';

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
  return [evalSuite, cpuSuite, webgpuSuite, compileSuite, trainSuite];
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
}

const wanted = process.argv.slice(2);
const all = await suites();
const unknown = wanted.filter((w) => !all.some((s) => s.name === w));
if (unknown.length) {
  process.stderr.write(`bench: unknown suite(s) ${unknown.join(', ')}; suites: ${all.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
mkdirSync('bench/results', { recursive: true });
const m = machine();
const report: string[] = ['# fusedet benchmarks', '', `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}, ${m.compiler}. Run ${m.date}.`, ''];
for (const s of all.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  process.stdout.write(`\n== ${s.title}\n`);
  const r = await s.run();
  writeAtomic(`bench/results/${s.name}.json`, JSON.stringify({ suite: s.name, title: s.title, machine: m, ...r }, null, 2) + '\n');
  report.push(`## ${s.title}`, '', '| what | fusedet | baseline | ratio | target |', '| --- | --- | --- | --- | --- |');
  for (const row of r.rows) {
    const fmt = (v: number | null): string => (v === null ? 'n/a' : `${v.toPrecision(4)} ${row.unit}`);
    const line = `| ${row.what} | ${fmt(row.ours)} | ${row.baseline === null ? 'n/a' : `${fmt(row.baseline)} (${row.baselineName})`} | ${row.ratio === null ? 'n/a' : `${row.ratio.toFixed(2)}×`} | ${row.target ?? ''} |`;
    report.push(line);
    process.stdout.write(line + '\n');
  }
  for (const n of r.notes) { report.push('', `- ${n}`); process.stdout.write(`NOTICE: ${n}\n`); }
  report.push('');
}
writeAtomic('bench/results/REPORT.md', report.join('\n') + '\n');
process.stdout.write('\nwrote bench/results/*.json and bench/results/REPORT.md\n');
