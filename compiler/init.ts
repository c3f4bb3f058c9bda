// Parameter initialisers. Each parameter draws from its own stream, derived
// from the seed and its name, so adding a parameter changes no other.
import { Graph, Init } from './graph.js';
import { Tensor, normalSampler, rng, zeros } from './tensor.js';
import { numel } from './types.js';

/** FNV-1a over the name, mixed with the seed: a 32-bit stream seed. */
export function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= Math.imul(seed >>> 0, 0x9e3779b1);
  return (h ^ (h >>> 16)) >>> 0;
}

/** fan_in = prod(shape[1:]); fan_out = shape[0] * prod(shape[2:]) (OIHW weights). */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const receptive = numel(shape.slice(2));
  return { fanIn: numel(shape.slice(1)), fanOut: (shape[0] ?? 1) * receptive };
}

export function initTensor(init: Init, shape: readonly number[], seed: number, name: string): Tensor {
  const t = zeros('f32', shape);
  const d = t.data;
  const fill = (v: number): void => { d.fill(v); };
  switch (init.kind) {
    case 'zeros': break;
    case 'ones': fill(1); break;
    case 'constant': fill(init.value); break;
    case 'prior_logit': fill(-Math.log((1 - init.prob) / init.prob)); break;
    case 'uniform': {
      const next = rng(streamSeed(seed, name));
      for (let i = 0; i < d.length; i++) d[i] = init.lo + (init.hi - init.lo) * next();
      break;
    }
    case 'normal':
    case 'kaiming': {
      let mean = 0, std: number;
      if (init.kind === 'normal') { mean = init.mean; std = init.std; }
      else {
        const { fanIn, fanOut } = fans(shape);
        std = init.gain / Math.sqrt(Math.max(1, init.mode === 'fan_in' ? fanIn : fanOut));
      }
      const normal = normalSampler(rng(streamSeed(seed, name)));
      for (let i = 0; i < d.length; i++) d[i] = mean + std * normal();
      break;
    }
  }
  return t;
}

/** Every parameter of the graph, initialised. Values are f32 whatever the declared float dtype. */
export function initParams(graph: Graph, seed: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const p of graph.params) {
    const type = graph.values[p.value].type;
    const t = initTensor(p.init, type.shape, seed, p.name);
    out.set(p.name, type.dtype === 'f32' || type.dtype === 'f16' ? { ...t, dtype: type.dtype } : castInit(t, type.dtype));
  }
  return out;
}

function castInit(t: Tensor, dtype: 'i32' | 'bool'): Tensor {
  const z = zeros(dtype, t.shape);
  for (let i = 0; i < z.data.length; i++) z.data[i] = dtype === 'bool' ? (t.data[i] !== 0 ? 1 : 0) : Math.trunc(t.data[i]);
  return z;
}
