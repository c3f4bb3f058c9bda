// matmul: [..., M, K] x [..., K, N] with numpy broadcasting over batch dims.
import { showDim } from '../dims.js';
import { numel } from '../types.js';
import { broadcastIndex, broadcastShapes } from './broadcast.js';
import { need, requireDtype, requireEq, requireMinRank, requireSameDtype } from './checks.js';
import { Op } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const NUMERIC = ['f32', 'f16', 'i32'] as const;

const matmul: Op<'matmul'> = {
  name: 'matmul', kind: 'out-fusable',
  doc: 'matrix product over the last two dims, batch dims broadcast',
  inputs: [{ name: 'a', dtypes: NUMERIC }, { name: 'b', dtypes: NUMERIC }],
  attrs: [],
  shape([a, b], _attrs, ctx) {
    const ta = need('matmul', a, 'a', 0), tb = need('matmul', b, 'b', 1);
    requireMinRank('matmul', ta, 2, 'a', 0);
    requireMinRank('matmul', tb, 2, 'b', 1);
    requireDtype('matmul', ta, NUMERIC, 'a', 0);
    requireSameDtype('matmul', ta, tb, 1);
    const m = ta.shape[ta.shape.length - 2], k = ta.shape[ta.shape.length - 1];
    const k2 = tb.shape[tb.shape.length - 2], n = tb.shape[tb.shape.length - 1];
    requireEq(ctx, k, k2, `matmul: a has ${showDim(k)} columns but b has ${showDim(k2)} rows`, 1, 'a: [..., M, K], b: [..., K, N]');
    const batch = broadcastShapes('matmul', [ta.shape.slice(0, -2), tb.shape.slice(0, -2)], ctx);
    return [{ dtype: ta.dtype, shape: [...batch, m, n] }];
  },
  reference([a, b]) {
    const A = a!, B = b!;
    const M = A.shape[A.shape.length - 2], K = A.shape[A.shape.length - 1], N = B.shape[B.shape.length - 1];
    const batchA = A.shape.slice(0, -2), batchB = B.shape.slice(0, -2);
    const rank = Math.max(batchA.length, batchB.length);
    const batch: number[] = [];
    for (let i = 0; i < rank; i++) {
      const da = batchA[batchA.length - rank + i] ?? 1, db = batchB[batchB.length - rank + i] ?? 1;
      batch.push(da === 1 ? db : da);
    }
    const ia = broadcastIndex(batch, batchA), ib = broadcastIndex(batch, batchB);
    const out = alloc(A.dtype, [...batch, M, N], usesF64([A, B]));
    const nb = numel(batch);
    for (let t = 0; t < nb; t++) {
      const ao = ia[t] * M * K, bo = ib[t] * K * N, oo = t * M * N;
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let p = 0; p < K; p++) acc += A.data[ao + i * K + p] * B.data[bo + p * N + j];
        out.data[oo + i * N + j] = acc;
      }
    }
    return [out];
  },
  flops(ins, outs) {
    const a = ins[0]!;
    return 2 * numel(outs[0].shape) * a.shape[a.shape.length - 1];
  },
  // dA = g·Bᵀ, dB = Aᵀ·g, each summed over the batch dims its operand was broadcast along.
  grad(b) {
    const [a, bb] = b.inputs, g = b.cotOrZero(0);
    const swapLast = (v: number): number => {
      const r = b.type(v).shape.length;
      return b.op('transpose', [v], { perm: [...Array(r - 2).keys(), r - 1, r - 2] });
    };
    return [
      b.needs(0) ? b.unbroadcast(b.op('matmul', [g, swapLast(bb)]), b.type(a).shape) : undefined,
      b.needs(1) ? b.unbroadcast(b.op('matmul', [swapLast(a), g]), b.type(bb).shape) : undefined,
    ];
  },
};

export const MATMUL_OPS = [matmul] as const;
