// The CPU register tile per GEMM (schedule/gemm.ts cpuRegisterTile): the
// target's 6 × 64, or 12 × 32 where that pads fewer rows × columns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuRegisterTile } from '../../compiler/schedule/gemm.js';
import { CPU, cpuIsaProfile, cpuTarget } from '../../compiler/target.js';

test('a 20 × 20 map takes strips of 32; maps that fill strips of 64 keep them', () => {
  assert.equal(cpuRegisterTile({ M: 256, N: 400 }, CPU), { rows: 12, cols: 32 }); // 448 → 416 columns
  assert.equal(cpuRegisterTile({ M: 256, N: 6400 }, CPU), { rows: 6, cols: 64 });
  assert.equal(cpuRegisterTile({ M: 256, N: 1600 }, CPU), { rows: 6, cols: 64 });
});

test('rows count too: 64 rows pad to 66 in tiles of 6 but 72 in tiles of 12', () => {
  assert.equal(cpuRegisterTile({ M: 64, N: 400 }, CPU), { rows: 6, cols: 64 }); // 66 × 448 < 72 × 416
});

test('a saving under 4% keeps the wide tile (measured slower in place)', () => {
  assert.equal(cpuRegisterTile({ M: 80, N: 15200 }, CPU), { rows: 6, cols: 64 }); // 15232 vs 15200 columns
});

test('a tie keeps the target tile; narrow strips count as chooseCpuTile narrows them', () => {
  assert.equal(cpuRegisterTile({ M: 512, N: 100 }, CPU), { rows: 6, cols: 64 }); // 128 columns either way
  assert.equal(cpuRegisterTile({ M: 16, N: 16 }, CPU), { rows: 6, cols: 64 }); // one strip of 16 either way, 18 < 24 rows
});

test('the AVX2 profile halves to 12 × 8, and never below one vector', () => {
  const avx2 = cpuTarget(cpuIsaProfile('avx2'));
  assert.equal(cpuRegisterTile({ M: 24, N: 20 }, avx2), { rows: 12, cols: 8 }); // 32 → 24 columns
  assert.equal(cpuRegisterTile({ M: 24, N: 20 }, { ...avx2, registerTile: { rows: 6, cols: 8 } }), { rows: 6, cols: 8 });
});

test.run();
