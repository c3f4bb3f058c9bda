// The committed CUDA snapshots (test/snapshots/*.cu, which render-snapshot
// keeps equal to the current rendering) compiled by nvcc for sm_90 and sm_75,
// one process per unit, in parallel; registers and spills per kernel are
// printed and, with FUSEDET_UPDATE_SNAPSHOTS=1, written to
// test/snapshots/cuda-resources.txt.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hasTool, nvccCompileAsync } from './kernel/toolchain.js';

const dir = fileURLToPath(new URL('../../../test/snapshots/', import.meta.url));

/** `k0_conv2d sm_90: 40 registers, spill stores 0 B, spill loads 0 B` from nvcc --resource-usage. */
export function resourceTable(usage: string): string[] {
  const rows: string[] = [];
  let fn = '', arch = '', spill = '';
  for (const line of usage.split('\n')) {
    const entry = line.match(/Compiling entry function '([^']+)' for '([^']+)'/);
    if (entry) { fn = entry[1]; arch = entry[2]; spill = ''; continue; }
    const s = line.match(/(\d+) bytes spill stores, (\d+) bytes spill loads/);
    if (s) spill = `spill stores ${s[1]} B, spill loads ${s[2]} B`;
    const regs = line.match(/Used (\d+) registers/);
    if (regs && fn) rows.push(`${fn} ${arch}: ${regs[1]} registers, ${spill || 'no spill line'}`);
  }
  return rows.sort();
}

function halves(unit: string): string[] {
  const parts = unit.split(/(?=^extern "C" __global__)/m);
  const prelude = parts[0].startsWith('extern') ? '' : parts.shift()!;
  if (parts.length < 8) return [unit];
  const mid = Math.ceil(parts.length / 2);
  return [prelude + parts.slice(0, mid).join(''), prelude + parts.slice(mid).join('')];
}

const haveNvcc = hasTool('nvcc');
if (!haveNvcc) console.log('SKIP snapshot CUDA compile: nvcc not on PATH');
(haveNvcc ? test : test.skip)('snapshot CUDA units compile for sm_90 and sm_75; registers and spills per kernel', async () => {
  const units = readdirSync(dir).filter((f) => f.endsWith('.cu')).sort();
  assert.ok(units.length >= 3, 'snapshots present');
  // A large unit is compiled as two halves (prelude + half the kernels each), so both cores work.
  const usages = await Promise.all(units.map(async (f) => (await Promise.all(halves(readFileSync(dir + f, 'utf8')).map(nvccCompileAsync))).join('\n')));
  const report: string[] = [];
  units.forEach((f, i) => {
    const rows = resourceTable(usages[i]);
    assert.ok(rows.length > 0, `${f}: no resource usage parsed`);
    report.push(`# ${f}`, ...rows, '');
  });
  console.log(report.join('\n'));
  if (process.env.FUSEDET_UPDATE_SNAPSHOTS === '1') {
    writeFileSync(dir + 'cuda-resources.txt.tmp', report.join('\n'));
    renameSync(dir + 'cuda-resources.txt.tmp', dir + 'cuda-resources.txt');
  } else {
    // The committed table is a snapshot of what this nvcc makes of the snapshot units.
    assert.fixture(report.join('\n'), readFileSync(dir + 'cuda-resources.txt', 'utf8'),
      'test/snapshots/cuda-resources.txt differs (rerun with FUSEDET_UPDATE_SNAPSHOTS=1 and review the diff)');
  }
});

test.run();
