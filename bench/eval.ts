// `fusedet eval` against pycocotools on the same COCO-like pair: 5,000
// images, 80 categories, ~7 objects an image, 100 detections an image
// (seeded). Both run end to end as child processes (start-up, JSON reading,
// evaluation, summary), each under /usr/bin/time -v for its peak RSS (or,
// without it, by polling /proc/PID/status VmHWM). Both must agree within
// 1e-4 on all 12 numbers, or the run fails.
//
// Usage: node dist/bench/eval.js [--images N] [--keep DIR]
// pycocotools: `python3` with pycocotools importable, or FUSEDET_PYTHON and
// PYCOCOTOOLS_DIR (a built cocoapi PythonAPI folder); skipped with a notice
// when neither works.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rng } from '../compiler/tensor.js';

export interface BenchResult {
  name: string;
  /** Wall seconds of `fusedet eval` (child process, end to end). */
  oursSeconds: number;
  /** Wall seconds of pycocotools (child process, end to end); null when it is not installed. */
  theirsSeconds: number | null;
  /** theirs / ours: how many times faster fusedet is. */
  ratio: number | null;
  oursPeakRssMiB: number | null;
  theirsPeakRssMiB: number | null;
  /** user + system CPU seconds (from /usr/bin/time; null without it): steadier than wall time on a busy machine. */
  oursCpuSeconds: number | null;
  theirsCpuSeconds: number | null;
  /** Largest difference over the 12 summarize() numbers. */
  maxAbsDiff: number | null;
  images: number;
  detections: number;
  notes: string[];
}

const root = fileURLToPath(new URL('../../', import.meta.url));

const r2 = (v: number): number => Math.round(v * 100) / 100;

/** Writes gt.json and dets.json under dir; returns the detection count. */
export function generatePair(dir: string, images: number, detsPerImage = 100, seed = 2017): number {
  const rand = rng(seed);
  const K = 80;
  const gtFd = openSync(join(dir, 'gt.json'), 'w');
  const dtFd = openSync(join(dir, 'dets.json'), 'w');
  let gtText = '{"images": [';
  for (let i = 1; i <= images; i++) gtText += `${i > 1 ? ', ' : ''}{"id": ${i}, "width": 640, "height": 480, "file_name": "${String(i).padStart(12, '0')}.jpg"}`;
  gtText += '],\n"categories": [';
  for (let k = 1; k <= K; k++) gtText += `${k > 1 ? ', ' : ''}{"id": ${k}, "name": "class${k}", "supercategory": "thing"}`;
  gtText += '],\n"annotations": [\n';
  writeSync(gtFd, gtText);
  writeSync(dtFd, '[\n');
  let annId = 1, nDet = 0, gtChunk = '', dtChunk = '';
  for (let img = 1; img <= images; img++) {
    const objects = 1 + Math.floor(rand() * 13);
    const boxes: [number, number, number, number, number][] = [];
    for (let o = 0; o < objects; o++) {
      // Log-uniform area from 4² to 400²: all three COCO area ranges.
      const side = Math.exp(Math.log(4) + rand() * Math.log(100));
      const aspect = Math.exp((rand() - 0.5) * 1.5);
      const w = Math.min(639, side * aspect), h = Math.min(479, side / aspect);
      const x = rand() * (640 - w), y = rand() * (480 - h);
      const cat = 1 + Math.floor(rand() * K);
      const crowd = rand() < 0.01 ? 1 : 0;
      boxes.push([x, y, w, h, cat]);
      gtChunk += `${annId > 1 ? ',\n' : ''}{"id": ${annId++}, "image_id": ${img}, "category_id": ${cat}, "bbox": [${r2(x)}, ${r2(y)}, ${r2(w)}, ${r2(h)}], "area": ${r2(w * h * 0.8)}, "iscrowd": ${crowd}, "segmentation": [[${r2(x)}, ${r2(y)}, ${r2(x + w)}, ${r2(y)}, ${r2(x + w)}, ${r2(y + h)}]]}`;
    }
    for (let d = 0; d < detsPerImage; d++) {
      let x: number, y: number, w: number, h: number, cat: number, score: number;
      if (d < boxes.length * 3 && rand() < 0.8) {
        const b = boxes[d % boxes.length];
        const j = 0.15 * rand();
        x = b[0] + (rand() - 0.5) * j * b[2]; y = b[1] + (rand() - 0.5) * j * b[3];
        w = b[2] * (1 + (rand() - 0.5) * j); h = b[3] * (1 + (rand() - 0.5) * j);
        cat = rand() < 0.9 ? b[4] : 1 + Math.floor(rand() * K);
        score = 0.3 + 0.7 * rand();
      } else {
        w = 4 + rand() * 200; h = 4 + rand() * 200; x = rand() * (640 - w); y = rand() * (480 - h);
        cat = 1 + Math.floor(rand() * K);
        score = 0.5 * rand();
      }
      dtChunk += `${nDet > 0 ? ',\n' : ''}{"image_id": ${img}, "category_id": ${cat}, "bbox": [${r2(x)}, ${r2(y)}, ${r2(w)}, ${r2(h)}], "score": ${Math.round(score * 1e5) / 1e5}}`;
      nDet++;
    }
    if (gtChunk.length > 1 << 20) { writeSync(gtFd, gtChunk); gtChunk = ''; }
    if (dtChunk.length > 1 << 20) { writeSync(dtFd, dtChunk); dtChunk = ''; }
  }
  writeSync(gtFd, gtChunk + '\n]}\n');
  writeSync(dtFd, dtChunk + '\n]\n');
  closeSync(gtFd);
  closeSync(dtFd);
  return nDet;
}

interface ChildRun { seconds: number; cpuSeconds: number | null; peakRssMiB: number | null; stdout: string; code: number }

/** Runs a child to completion, measuring wall time and peak RSS. */
function runMeasured(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildRun> {
  const useTime = existsSync('/usr/bin/time');
  const [file, argv] = useTime ? ['/usr/bin/time', ['-v', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', polled: number | null = null;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // Without /usr/bin/time: VmHWM only grows, so the last reading is a lower bound.
    const timer = useTime ? null : setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) polled = Number(m[1]) / 1024;
      } catch { /* exited */ }
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const peakRssMiB = m ? Number(m[1]) / 1024 : polled;
      const user = /User time \(seconds\): ([\d.]+)/.exec(stderr), sys = /System time \(seconds\): ([\d.]+)/.exec(stderr);
      const cpuSeconds = user && sys ? Number(user[1]) + Number(sys[1]) : null;
      if (code !== 0) process.stderr.write(stderr.slice(-2000));
      resolve({ seconds, cpuSeconds, peakRssMiB, stdout, code: code ?? 1 });
    });
  });
}

/** The python command that can import pycocotools, or null. */
function findPycocotools(): { python: string; args: string[] } | null {
  const dir = process.env.PYCOCOTOOLS_DIR;
  const extra = dir ? ['--pycocotools', dir] : [];
  const shim = join(root, 'tools/fixtures/coco');
  for (const python of [process.env.FUSEDET_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    const probe = spawnSync(python, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(shim)}); from cocoeval_cli import load_pycocotools; load_pycocotools(${dir ? JSON.stringify(dir) : 'None'})`], { encoding: 'utf8' });
    if (probe.status === 0) return { python, args: extra };
  }
  return null;
}

export async function benchEval(opts: { images?: number; keep?: string } = {}): Promise<BenchResult> {
  const images = opts.images ?? 5000;
  const dir = opts.keep ?? mkdtempSync(join(tmpdir(), 'fusedet-bench-eval-'));
  const notes: string[] = [];
  try {
    const detections = generatePair(dir, images);
    const gt = join(dir, 'gt.json'), dets = join(dir, 'dets.json');
    const ours = await runMeasured(process.execPath, [join(root, 'dist/cli/main.js'), 'eval', '--gt', gt, '--dets', dets, '--json']);
    if (ours.code !== 0) throw new Error(`fusedet eval failed (exit ${ours.code})`);
    const oursJson = JSON.parse(ours.stdout) as Record<string, number>;
    const keys = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'];
    const py = findPycocotools();
    let theirs: ChildRun | null = null;
    let maxAbsDiff: number | null = null;
    if (!py) {
      notes.push('pycocotools not found (python3 cannot import it; set FUSEDET_PYTHON / PYCOCOTOOLS_DIR): theirs skipped');
    } else {
      theirs = await runMeasured(py.python, [join(root, 'tools/fixtures/coco/cocoeval_cli.py'), gt, dets, ...py.args]);
      if (theirs.code !== 0) throw new Error(`pycocotools failed (exit ${theirs.code})`);
      const stats = (JSON.parse(theirs.stdout) as { stats: number[] }).stats;
      maxAbsDiff = Math.max(...keys.map((k, i) => Math.abs(oursJson[k] - stats[i])));
      if (!(maxAbsDiff <= 1e-4)) throw new Error(`fusedet and pycocotools disagree by ${maxAbsDiff}`);
    }
    return {
      name: 'eval-coco', oursSeconds: ours.seconds, theirsSeconds: theirs?.seconds ?? null,
      ratio: theirs ? theirs.seconds / ours.seconds : null,
      oursPeakRssMiB: ours.peakRssMiB, theirsPeakRssMiB: theirs?.peakRssMiB ?? null,
      oursCpuSeconds: ours.cpuSeconds, theirsCpuSeconds: theirs?.cpuSeconds ?? null, maxAbsDiff,
      images, detections, notes,
    };
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function formatResult(r: BenchResult): string {
  const mib = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(0)} MiB`);
  const cpu = (v: number | null): string => (v === null ? '' : ` (${v.toFixed(2)} s CPU)`);
  const lines = [
    `COCO bbox eval, ${r.images} images, ${r.detections} detections (end to end, child processes)`,
    `  fusedet eval : ${r.oursSeconds.toFixed(2)} s${cpu(r.oursCpuSeconds)}, peak RSS ${mib(r.oursPeakRssMiB)}`,
    `  pycocotools  : ${r.theirsSeconds === null ? 'skipped' : `${r.theirsSeconds.toFixed(2)} s${cpu(r.theirsCpuSeconds)}, peak RSS ${mib(r.theirsPeakRssMiB)}`}`,
  ];
  if (r.ratio !== null) {
    const cpuRatio = r.oursCpuSeconds && r.theirsCpuSeconds ? `, ${(r.theirsCpuSeconds / r.oursCpuSeconds).toFixed(1)}x in CPU time` : '';
    lines.push(`  ratio        : ${r.ratio.toFixed(1)}x faster in wall time${cpuRatio} (12 numbers agree within ${r.maxAbsDiff?.toExponential(1)})`);
  }
  for (const n of r.notes) lines.push(`  NOTICE: ${n}`);
  return lines.join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { images: { type: 'string' }, keep: { type: 'string' } } });
  const result = await benchEval({ images: values.images ? Number(values.images) : undefined, keep: values.keep });
  process.stdout.write(formatResult(result));
}
