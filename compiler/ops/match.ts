// One-to-one assignment (POTO): per image, the maximum-weight matching that
// gives each real GT row a distinct location column.
//
// Kernel: match.kernel.ts (one workgroup per image, integer shortest
// augmenting paths over each row's candidates, exact for the quantised
// qualities). Quantisation: W = round((q − b_i)·S), b_i the row's baseline,
// S = the largest power of two with S·R ≤ Wmax = min(2^23, ⌊(2^31 − 1)/(g + 2)⌋),
// R the largest row range; the kernel's total is within 2·g/S ≤ 4·g·R/Wmax of
// this reference's optimum (POTO's qualities in [−1, 1]: ≤ 9.5e-5 at g = 100,
// ≤ 1e-3 at g = 512; zero for qualities on a coarse dyadic grid).
// Non-finite qualities count as the image's smallest finite quality − 1 in
// both; gt_count outside [0, G] is an error here and clamped by the kernel.
import { showDim, sub } from '../dims.js';
import { need, requireAtLeast, requireDtype, requireEq, requireRank } from './checks.js';
import { Op } from './op.js';
import { alloc } from './tensors.js';

/**
 * Rectangular assignment minimising cost[r][c] for rows <= cols, by shortest
 * augmenting paths with potentials (Jonker–Volgenant style), O(rows² · cols).
 * Returns the column of each row.
 */
export function assignMinCost(cost: Float64Array, rows: number, cols: number): Int32Array {
  const INF = Infinity;
  const u = new Float64Array(rows + 1), v = new Float64Array(cols + 1);
  const p = new Int32Array(cols + 1); // p[j]: row (1-based) holding column j; 0 = free
  const way = new Int32Array(cols + 1);
  const minv = new Float64Array(cols + 1);
  const used = new Uint8Array(cols + 1);
  for (let i = 1; i <= rows; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF); used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = INF, j1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (used[j]) continue;
        const cur = cost[(i0 - 1) * cols + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
        if (minv[j] < delta) { delta = minv[j]; j1 = j; }
      }
      for (let j = 0; j <= cols; j++) {
        if (used[j]) { u[p[j]] += delta; v[j] -= delta; } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do { const j1 = way[j0]; p[j0] = p[j1]; j0 = j1; } while (j0 !== 0);
  }
  const colOf = new Int32Array(rows);
  for (let j = 1; j <= cols; j++) if (p[j] !== 0) colOf[p[j] - 1] = j - 1;
  return colOf;
}

const match: Op<'match'> = {
  name: 'match', kind: 'opaque',
  doc: 'per image, maximum-weight matching of the first gt_count rows of quality: [B, G, N] to distinct columns; -1 for padded rows',
  inputs: [{ name: 'quality', dtypes: ['f32', 'f16'] }, { name: 'gt_count', dtypes: ['i32'] }],
  attrs: [],
  shape([q, c], _attrs, ctx) {
    const tq = need('match', q, 'quality', 0), tc = need('match', c, 'gt_count', 1);
    requireRank('match', tq, 3, 'quality', 0, 'B, G, N');
    requireDtype('match', tq, ['f32', 'f16'], 'quality', 0);
    requireRank('match', tc, 1, 'gt_count', 1, 'B');
    requireDtype('match', tc, ['i32'], 'gt_count', 1);
    const [b, g, n] = tq.shape;
    requireEq(ctx, tc.shape[0], b, `match: gt_count has ${showDim(tc.shape[0])} entries but quality has batch ${showDim(b)}`, 1);
    requireAtLeast(ctx, sub(n, g), 0, `match: ${showDim(g)} GT rows but only ${showDim(n)} locations; every GT needs its own location`, 0);
    return [{ dtype: 'i32', shape: [b, g] }];
  },
  reference([q, c]) {
    const [B, G, N] = q!.shape;
    const out = alloc('i32', [B, G], false);
    out.data.fill(-1);
    for (let b = 0; b < B; b++) {
      const rows = c!.data[b];
      if (!Number.isInteger(rows) || rows < 0 || rows > G) throw new RangeError(`match: gt_count[${b}] = ${rows} is outside [0, ${G}]`);
      if (rows === 0) continue;
      // Maximise quality = minimise its negation; non-finite entries become the worst finite value.
      const cost = new Float64Array(rows * N);
      let worst = -Infinity;
      for (let i = 0; i < rows * N; i++) { const v = q!.data[b * G * N + i]; if (Number.isFinite(v)) worst = Math.max(worst, -v); }
      if (worst === -Infinity) worst = 0;
      for (let i = 0; i < rows * N; i++) { const v = q!.data[b * G * N + i]; cost[i] = Number.isFinite(v) ? -v : worst + 1; }
      const cols = assignMinCost(cost, rows, N);
      for (let r = 0; r < rows; r++) out.data[b * G + r] = cols[r];
    }
    return [out];
  },
  flops: (ins) => { const [b, g, n] = ins[0]!.shape; return b * g * g * n; },
  // An assignment: piecewise constant in the qualities, so no gradient (DeFCN computes it under no_grad).
  grad: 'none',
};

export const MATCH_OPS = [match] as const;
