// bench/report.ts renders REPORT.md and PNG plots from results files: each
// figure's rows, command, machine and results file; a comparison without
// rows says what would measure it; a broken results file is left out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport } from '../../bench/report.js';

test('figures from results files, with command, machine and source; missing comparisons named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-report-'));
  const results = join(dir, 'results');
  mkdirSync(results);
  const machine = { cpu: 'Test CPU', cores: 2, memGiB: 8, node: 'v20', compiler: 'cc 12', date: '2026-12-07T00:00:00Z' };
  const row = (what: string, baselineName: string, ours: number, baseline: number) => ({ what, ours, baseline, baselineName, unit: 's', ratio: baseline / ours });
  writeFileSync(join(results, 'cpu.json'), JSON.stringify({ suite: 'cpu', title: 'CPU', machine, notes: [], rows: [
    row('max3d vs unfused composition (CPU)', 'composition, fusion off', 1, 2), row('R50 forward', 'PyTorch 1.13 CPU', 2, 1)] }));
  writeFileSync(join(results, 'onnx.json'), JSON.stringify({ suite: 'onnx', title: 'ONNX', machine: { ...machine, cpu: 'Other CPU' }, notes: ['same threads'], rows: [
    row('DeFCN 320×320 network part', 'onnxruntime-node 1.x CPU', 1, 3)] }));
  writeFileSync(join(results, 'broken.json'), '{ not json');
  writeFileSync(join(results, 'raw.json'), JSON.stringify({ samples: [1, 2] }));
  const out = join(dir, 'out');
  const md = await writeReport(results, out);
  assert.is(readFileSync(join(out, 'REPORT.md'), 'utf8'), md);
  for (const id of ['max3d-fused', 'vs-pytorch', 'vs-onnxruntime']) {
    const png = readFileSync(join(out, 'plots', `${id}.png`));
    assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${id}.png is a PNG`);
    assert.match(md, `![`);
    assert.match(md, `(plots/${id}.png)`);
  }
  assert.not.ok(existsSync(join(out, 'plots', 'vs-tfjs.png')));
  assert.match(md, /## vs TensorFlow\.js[^\n]*\n\nNot measured yet: no results file has these rows \(`npm run bench cpu webgpu` makes them\)/);
  assert.match(md, /- command: `npm run bench onnx`; results: `\.\.\/results\/onnx\.json`; machine: Other CPU, 2 cores/);
  assert.match(md, /\| DeFCN 320×320 network part \| 1\.000 s \| 3\.000 s \(onnxruntime-node 1\.x CPU\) \| 3\.00× \|/);
  assert.match(md, /\| R50 forward \| 2\.000 s \| 1\.000 s \(PyTorch 1\.13 CPU\) \| 0\.50× \|/);
  assert.not.match(md, /raw\.json|broken\.json/);
});

test.run();
