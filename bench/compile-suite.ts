// Issue 4's last figure: cold compile (empty cache: FUSEDET_CACHE_DIR set to
// a fresh temporary folder) and warm load (same folder, cached library) of
// the ResNet-50 DeFCN forward on the CPU runtime. A child process per
// measurement, so nothing compiled or loaded earlier in this process helps.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow, BenchSuite } from './run.js';

const SIZE = Number(process.env.FUSEDET_BENCH_COMPILE_SIZE) || 512;

interface Timed { seconds: number; setup: string }

function runOnce(cacheDir: string): Timed {
  const args = ['dist/cli/main.js', 'run', 'models/defcn.fd', '--entry', 'DeFCN', '--runtime', 'cpu', '--input', `image=f32[1,3,${SIZE},${SIZE}]`];
  const t0 = performance.now();
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, FUSEDET_CACHE_DIR: cacheDir, FUSEDET_DEBUG: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  const setup = out.split('\n').find((l) => /kernels, \d+ launches/.test(l)) ?? '';
  return { seconds, setup: setup.trim() };
}

/** The load time the run command reports, in seconds (graph compile + load), from its setup line. */
function loadSeconds(setup: string): number | null {
  const g = /graph compile ([\d.]+) ms/.exec(setup), l = /load ([\d.]+) ms/.exec(setup);
  return g && l ? (Number(g[1]) + Number(l[1])) / 1000 : null;
}

export const compileSuite: BenchSuite = {
  name: 'compile',
  title: `Compile time: ResNet-50 DeFCN forward (${SIZE}×${SIZE}) on the CPU runtime, cold cache vs warm cache`,
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'fusedet-bench-cache-'));
    try {
      return measure(dir);
    } catch (e) {
      // A failed child (no C compiler, no addon) is a row saying why, not a crashed bench run.
      const err = e as { stderr?: string; message: string };
      const why = (err.stderr || err.message).trim().split('\n').slice(0, 3).join(' / ');
      return { rows: [{ what: 'R50 DeFCN compile: failed', ours: NaN, baseline: null, baselineName: '', unit: 's', ratio: null, notes: [why] }], raw: { error: why }, notes: [`compile suite failed: ${why}`] };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function measure(dir: string): { rows: BenchRow[]; raw: unknown; notes: string[] } {
  const cold = runOnce(dir);
  const warm = runOnce(dir);
  const coldLoad = loadSeconds(cold.setup), warmLoad = loadSeconds(warm.setup);
  const cmd = `FUSEDET_CACHE_DIR=${dir} node dist/cli/main.js run models/defcn.fd --entry DeFCN --runtime cpu --input image=f32[1,3,${SIZE},${SIZE}]`;
  const rows: BenchRow[] = [
    { what: 'graph compile + load (C compile), cold cache', ours: coldLoad ?? NaN, baseline: null, baselineName: '', unit: 's', ratio: null, notes: [cold.setup] },
    { what: 'graph compile + load, warm cache', ours: warmLoad ?? NaN, baseline: coldLoad, baselineName: 'cold cache', unit: 's', ratio: coldLoad && warmLoad ? coldLoad / warmLoad : null, notes: [warm.setup] },
    { what: 'whole `fusedet run` process (check, lower, init, compile, load, one forward), cold', ours: cold.seconds, baseline: null, baselineName: '', unit: 's', ratio: null },
    { what: 'whole `fusedet run` process, warm', ours: warm.seconds, baseline: cold.seconds, baselineName: 'cold', unit: 's', ratio: cold.seconds / warm.seconds },
  ];
  return { rows, raw: { size: SIZE, cold, warm, coldLoad, warmLoad }, notes: [`each figure from a child process: ${cmd} (cold: fresh cache folder; warm: the same command again)`] };
}
