// The `match` fixture instances (test/fixtures/match/match.json), generated
// from the batch seeds exactly as tools/fixtures/match_fixtures.py does
// (mulberry32 = compiler/tensor.ts rng; float32 rounding on store). See that
// script for what each kind exercises.
import { readFileSync } from 'node:fs';
import { GraphBuilder, Graph } from '../../../compiler/graph.js';
import { rng } from '../../../compiler/tensor.js';
import { NO_SPAN } from '../../../compiler/types.js';
import { matchGapBound } from '../../../compiler/ops/match.kernel.js';

export interface MatchImage { kind: string; count: number; total: number }
export interface MatchBatch { B: number; G: number; N: number; kinds: string[]; where: 'small' | 'large'; seed: number; images: MatchImage[] }

export function loadMatchFixture(): MatchBatch[] {
  return (JSON.parse(readFileSync('test/fixtures/match/match.json', 'utf8')) as { batches: MatchBatch[] }).batches;
}

function fillPrior(next: () => number, q: Float32Array, i: number, N: number, withNan: boolean): void {
  const W = Math.ceil(Math.sqrt(N)), H = Math.ceil(N / W);
  const rmax = Math.min(W, 3 + Math.floor(W / 10));
  const r = next();
  if (r < 0.1) return;
  if (r < 0.3 && i > 0) { q.copyWithin(i * N, (i - 1) * N, i * N); return; }
  const w = 1 + Math.floor(next() * rmax), h = 1 + Math.floor(next() * Math.min(H, rmax));
  const x0 = Math.floor(next() * (W - w + 1)), y0 = Math.floor(next() * (H - h + 1));
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++) {
      const j = y * W + x;
      if (j < N) q[i * N + j] = Math.floor(next() * 4096) / 4096;
    }
  }
  if (withNan && next() < 0.5) q[i * N + Math.floor(next() * N)] = NaN;
}

/** One image's [G, N] qualities (rows from g on hold 9). */
function image(next: () => number, kind: string, G: number, N: number, g: number): Float32Array {
  const q = new Float32Array(G * N).fill(9);
  q.fill(-1, 0, g * N);
  switch (kind) {
    case 'grid': case 'cont':
      for (let i = 0; i < g * N; i++) {
        const r = next(), v = next();
        q[i] = r < 0.3 ? -1 : kind === 'cont' ? v : r < 0.45 ? 0 : Math.floor(v * 8 + 0.5) / 8;
      }
      break;
    case 'rows':
      for (let i = 0; i < g; i++) {
        const r = next(), v = next();
        q.fill(r < 0.3 ? -1 : Math.floor(v * 4) / 4, i * N, (i + 1) * N);
      }
      break;
    case 'const': q.fill(Math.floor(next() * 4) / 4, 0, g * N); break;
    case 'prior': case 'nan':
      for (let i = 0; i < g; i++) fillPrior(next, q, i, N, kind === 'nan');
      break;
    case 'taken': {
      const k = 1 + Math.floor(next() * Math.max(1, Math.floor(g / 2)));
      const c0 = Math.floor(next() * (N - k + 1));
      for (let i = 0; i < g; i++) for (let j = c0; j < c0 + k; j++) q[i * N + j] = Math.floor(next() * 16) / 16;
      break;
    }
    default: throw new Error(`match fixture: unknown kind ${kind}`);
  }
  return q;
}

/** A batch's qualities [B, G, N], gt_count [B] and kinds, from its seed. */
export function batchData(b: MatchBatch): { q: Float32Array; counts: Int32Array; kinds: string[] } {
  const next = rng(b.seed);
  const q = new Float32Array(b.B * b.G * b.N), counts = new Int32Array(b.B), kinds: string[] = [];
  for (let i = 0; i < b.B; i++) {
    const kind = b.kinds[Math.floor(next() * b.kinds.length)];
    const r = next();
    const g = r < 0.33 ? b.G : r < 0.42 ? 0 : Math.floor(next() * (b.G + 1));
    q.set(image(next, kind, b.G, b.N, g), i * b.G * b.N);
    counts[i] = g;
    kinds.push(kind);
  }
  return { q, counts, kinds };
}

/**
 * The op's total for image b: float64 sum of the chosen qualities, a
 * non-finite one counting as the image's smallest finite quality - 1.
 * Throws unless the first `count` entries are distinct columns in [0, N)
 * and the rest -1.
 */
export function checkedTotal(q: Float32Array, match: ArrayLike<number>, b: number, G: number, N: number, count: number): number {
  const block = q.subarray(b * G * N, b * G * N + count * N);
  let lo = Infinity;
  for (const x of block) if (Number.isFinite(x)) lo = Math.min(lo, x);
  const seen = new Set<number>();
  let total = 0;
  for (let r = 0; r < G; r++) {
    const c = match[b * G + r];
    if (r >= count) { if (c !== -1) throw new Error(`image ${b}: padded row ${r} got ${c}, not -1`); continue; }
    if (!Number.isInteger(c) || c < 0 || c >= N) throw new Error(`image ${b}: row ${r} got column ${c} outside [0, ${N})`);
    if (seen.has(c)) throw new Error(`image ${b}: column ${c} taken twice`);
    seen.add(c);
    const x = block[r * N + c];
    total += Number.isFinite(x) ? x : lo - 1;
  }
  return total;
}


/** The graph `match(quality [B, G, N], gt_count [B])` with inputs q and count. */
export function matchGraph(B: number, G: number, N: number): Graph {
  const b = new GraphBuilder();
  const q = b.input('q', { dtype: 'f32', shape: [B, G, N] }, NO_SPAN);
  const c = b.input('count', { dtype: 'i32', shape: [B] }, NO_SPAN);
  const [m] = b.node('match', [q, c], {}, [{ dtype: 'i32', shape: [B, G] }], NO_SPAN, '');
  b.output('m', m);
  return b.graph;
}

/** Every image of a batch against its scipy total; returns the failures (empty when all pass). */
export function batchFailures(b: MatchBatch, q: Float32Array, counts: Int32Array, match: ArrayLike<number>, what: string): string[] {
  const bad: string[] = [];
  for (let i = 0; i < b.B; i++) {
    const want = b.images[i].total;
    let got: number;
    try {
      got = checkedTotal(q, match, i, b.G, b.N, counts[i]);
    } catch (e) {
      bad.push(`${what} ${b.B}x${b.G}x${b.N} image ${i} (${b.images[i].kind}): ${(e as Error).message}`);
      continue;
    }
    const tol = matchGapBound(q.subarray(i * b.G * b.N), b.N, counts[i]) + 1e-9 * Math.max(1, Math.abs(want));
    if (!(Math.abs(got - want) <= tol)) bad.push(`${what} ${b.B}x${b.G}x${b.N} image ${i} (${b.images[i].kind}, ${counts[i]} GTs): total ${got} vs scipy ${want} (allowed ${tol})`);
  }
  return bad;
}
