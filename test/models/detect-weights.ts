// Weights for detector tests: a tiny config's parameters with the head made
// decisive (its 3×3 conv weights uniform ±0.3, the class prior bias 0), so
// random weights give spread-out scores well above the 0.05 threshold and
// boxes of many sizes, instead of the near-constant outputs of the N(0,
// 0.01) init where every score ties. Saved as a training checkpoint would
// be: names with the train prefix ("net."), an optimizer tensor to ignore,
// and the config record in the metadata.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '../../compiler/init.js';
import { Tensor, rng } from '../../compiler/tensor.js';
import { DetectorConfig, configRecord, loadConfig } from '../../models/config.js';
import { lowerDetect } from '../../models/detector.js';
import { writeSafetensors } from '../../models/checkpoint/safetensors.js';

export function decisiveWeights(cfg: DetectorConfig, seed = 7): Map<string, Tensor> {
  const graph = lowerDetect(cfg, { ...cfg.infer.args }, 1, 64, 64);
  const params = initParams(graph, seed);
  const next = rng(seed + 100);
  for (const [name, t] of params) {
    if (name.startsWith('head.') && t.shape.length === 4) for (let i = 0; i < t.data.length; i++) t.data[i] = (next() - 0.5) * 0.6;
    if (name === 'head.cls.bias') t.data.fill(0);
  }
  return params;
}

/** A checkpoint-shaped weights file for config `name`; returns its path. */
export function writeWeights(name: string, dir = mkdtempSync(join(tmpdir(), 'fusedet-detect-')), seed = 7): string {
  const cfg = loadConfig(name);
  const params = decisiveWeights(cfg, seed);
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of params) tensors.set(`${cfg.train.prefix}${k}`, t);
  const first = [...params.entries()][0];
  tensors.set(`opt.momentum.${cfg.train.prefix}${first[0]}`, first[1]);
  const path = join(dir, `${name}.safetensors`);
  writeSafetensors(path, tensors, { config: JSON.stringify({ experiment: configRecord(cfg) }) });
  return path;
}
