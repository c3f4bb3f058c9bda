// Writes configs/*.json: one file per row of the paper's Tables 1, 3, 4, 5,
// 6 and 9 at the paper's settings (ResNet-50, COCO sizes, 180k iterations),
// two CrowdHuman rows (Table 8), and the CPU-sized versions the demo, its
// tests and the quality run train. Run `node configs/generate.mjs` after
// changing a default here; the files are committed so a user reads (and
// edits) plain JSON. models/config.ts documents and checks every field.
//
// The constructor arguments of the training entries (models/defcn-train.fd,
// models/fcos-train.fd) come from one function per detector below, so a
// renamed argument is one edit here.
import { writeFileSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = dirname(fileURLToPath(import.meta.url));

// Enumerations of the training entries' int arguments (see defcn-train.fd).
const PRIOR = { center: 0, box: 1, global: 2 };
const QUALITY = { mul: 0, add: 1 };
const RULE = { poto: 0, anchor: 1, center: 2, 'foreground-loss': 3, argmax: 4 };
const AUX = { none: 0, 'quality-atss': 1, fcos: 2, atss: 3, 'quality-fcos': 4, 'quality-topk': 5 };

const R50 = { depth: 50, C: 256, groups: 32, width: 64 };

/** DeFCN: one-to-one rule, quality, prior, 3DMF on/off (tau, phi), auxiliary rule. */
function defcn(o) {
  const net = { K: o.K ?? 80, ...(o.net ?? R50) };
  const mf = o.mf ?? true;
  const tau = o.tau ?? 2, phi = o.phi ?? 3;
  const train = {
    source: 'models/defcn-train.fd', module: 'DeFCNTrain', fn: 'loss', prefix: 'net.',
    args: {
      ...net, tau, phi, mf,
      rule: RULE[o.rule ?? 'poto'], alpha: o.alpha ?? 0.8, quality: QUALITY[o.quality ?? 'mul'],
      prior: PRIOR[o.prior ?? 'center'], aux: AUX[o.aux ?? 'quality-atss'],
    },
  };
  const infer = { source: 'models/defcn.fd', module: 'DeFCN', fn: 'detect', args: { ...net, tau, phi, mf } };
  return { train, infer, nms: false };
}

/** FCOS: centerness on/off, optional auxiliary loss (Table 5). */
function fcos(o) {
  const net = { K: o.K ?? 80, ...(o.net ?? R50) };
  const centerness = o.centerness ?? false;
  const train = {
    source: 'models/fcos-train.fd', module: 'FCOSTrain', fn: 'loss', prefix: 'net.',
    // The auxiliary loss on FCOS only where a row asks for it (Table 5).
    args: { ...net, centerness, ...(o.aux ? { aux: AUX[o.aux] } : {}) },
  };
  const infer = { source: 'models/fcos.fd', module: 'FCOS', fn: 'detect', args: { ...net, centerness } };
  return { train, infer, nms: true };
}

const COCO_SCHEDULE = {
  lr: 0.01, momentum: 0.9, weightDecay: 1e-4, weightDecayNorm: 0, warmup: 1000, warmupFactor: 0.001,
  steps: 180000, milestones: [120000, 160000], gamma: 0.1, batch: 16, clip: 0, checkpointEvery: 5000, seed: 0,
};
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const COCO_DATA = {
  shortSides: [640, 672, 704, 736, 768, 800], maxSize: 1333, testShortSide: 800, testMaxSize: 1333, flip: true,
  ...IMAGENET, sizeBucket: 128, minBoxes: 8, maxBoxes: 512,
};
const COCO_INFERENCE = (nms) => ({ detections: 100, scoreThreshold: 0.05, topkPerLevel: 1000, nmsIou: 0.6, nms, protocol: 'coco' });

function paperRow(name, description, model, paper, extra = {}) {
  return [name, {
    description, paper,
    train: model.train, infer: model.infer,
    schedule: COCO_SCHEDULE, data: COCO_DATA, inference: { ...COCO_INFERENCE(model.nms), ...extra },
  }];
}

const files = [];
const add = ([name, cfg]) => files.push([name, cfg]);

// Table 1: label assignment rules (R50, 180k). FCOS without centerness; the
// hand-designed and prediction-aware one-to-one rules without 3DMF or aux.
const t1 = (row, ap, ar) => ({ table: 1, row, mAP: { nms: ap[0], noNms: ap[1] }, mAR: { nms: ar[0], noNms: ar[1] } });
add(paperRow('table1-fcos', 'FCOS baseline without centerness (one-to-many, needs NMS)', fcos({}), t1('FCOS baseline', [40.5, 12.1], [58.3, 52.8])));
add(paperRow('table1-anchor', 'one-to-one Anchor rule (each GT takes its top-IoU anchor)', defcn({ rule: 'anchor', mf: false, aux: 'none' }), t1('Anchor', [37.2, 35.8], [57.0, 59.2])));
add(paperRow('table1-center', 'one-to-one Center rule (the location nearest the GT centre on its FCOS level)', defcn({ rule: 'center', mf: false, aux: 'none' }), t1('Center', [37.2, 33.6], [57.8, 59.7])));
add(paperRow('table1-foreground-loss', 'one-to-one Hungarian on the foreground loss (focal + 2·GIoU)', defcn({ rule: 'foreground-loss', mf: false, aux: 'none' }), t1('Foreground loss', [38.3, 37.1], [58.6, 61.4])));
add(paperRow('table1-poto', 'POTO (alpha 0.8, centre prior), no 3DMF, no aux', defcn({ mf: false, aux: 'none' }), t1('POTO', [38.6, 38.0], [57.9, 60.5])));
add(paperRow('table1-poto-3dmf', 'POTO + 3D Max Filtering, no aux', defcn({ aux: 'none' }), t1('POTO+3DMF', [40.0, 39.8], [58.8, 60.9])));
add(paperRow('table1-poto-3dmf-aux', 'POTO + 3DMF + auxiliary loss (Quality-ATSS): DeFCN', defcn({}), t1('POTO+3DMF+Aux', [41.2, 41.1], [58.9, 61.2])));

// Table 2: NMS configurations on a trained FCOS (no centerness; the
// weights of table1-fcos / table5-fcos: the same model). Per scale with a
// k×k spatial range, per scale unlimited, across scales (plain NMS). mAP.
const t2 = (acrossScales, range, ap) => ({ table: 2, model: 'FCOS', acrossScales, spatialRange: range ? `${range}x${range}` : 'inf x inf', mAP: ap });
for (const [range, ap] of [[1, 19.0], [3, 37.4], [5, 39.2]]) {
  add(paperRow(`table2-fcos-per-scale-${range}x${range}`, `FCOS without centerness; NMS per pyramid level, a box dropped only near a higher-ranked one (${range}×${range} locations)`,
    fcos({}), t2(false, range, ap), { nms: true, nmsPerLevel: true, nmsRange: range }));
}
add(paperRow('table2-fcos-per-scale', 'FCOS without centerness; NMS per pyramid level, no spatial limit', fcos({}), t2(false, 0, 39.2), { nms: true, nmsPerLevel: true }));
add(paperRow('table2-fcos-across-scales', 'FCOS without centerness; NMS across all levels (the usual FCOS post-processing)', fcos({}), t2(true, 0, 40.9), { nms: true }));

// Table 3: POTO's alpha × spatial prior (no 3DMF, no aux). mAP w/o / w/ NMS.
const T3 = {
  0.0: [[33.5, 33.6], [24.1, 24.2], [1.9, 2.1]], 0.2: [[33.7, 33.9], [28.8, 28.8], [19.4, 19.5]],
  0.4: [[35.0, 35.2], [32.7, 32.8], [28.3, 28.4]], 0.6: [[36.6, 36.9], [35.3, 35.5], [34.7, 34.9]],
  0.8: [[38.0, 38.6], [37.4, 37.9], [37.3, 37.9]], 1.0: [[11.8, 29.7], [4.5, 13.0], null],
};
for (const [alpha, rows] of Object.entries(T3)) {
  ['center', 'box', 'global'].forEach((prior, i) => {
    const a = Number(alpha).toFixed(1);
    const paper = { table: 3, alpha: Number(alpha), prior, mAP: rows[i] ? { noNms: rows[i][0], nms: rows[i][1] } : 'non-convergence' };
    add(paperRow(`table3-alpha${a}-${prior}`, `POTO with alpha ${a} and the ${prior === 'center' ? 'centre-sampling' : prior === 'box' ? 'inside-box' : 'global (no)'} prior; no 3DMF, no aux`,
      defcn({ alpha: Number(alpha), prior, mf: false, aux: 'none' }), paper));
  });
}

// Table 4: quality functions (POTO, centre prior, no 3DMF, no aux). mAP/AP50/AP75 w/o / w/ NMS.
for (const [q, alpha, ap, ap50, ap75] of [['add', 0.2, [36.0, 36.2], [55.7, 57.0], [38.7, 38.3]], ['add', 0.5, [37.3, 37.8], [54.9, 57.4], [40.5, 40.4]],
  ['add', 0.8, [29.3, 35.6], [40.3, 53.4], [32.8, 38.4]], ['mul', 0.8, [38.0, 38.6], [55.2, 57.6], [41.4, 41.3]]]) {
  const pair = ([noNms, nms]) => ({ noNms, nms });
  add(paperRow(`table4-${q}-alpha${alpha.toFixed(1)}`, `POTO with the ${q === 'add' ? '(1−α)·p + α·IoU' : 'p^(1−α)·IoU^α'} quality, alpha ${alpha}; no 3DMF, no aux`,
    defcn({ quality: q, alpha, mf: false, aux: 'none' }), { table: 4, quality: q, alpha, mAP: pair(ap), AP50: pair(ap50), AP75: pair(ap75) }));
}

// Table 5: 3DMF and aux on FCOS and on POTO. mAP w/o / w/ NMS.
const t5 = (model, mf, aux, ap) => ({ table: 5, model, '3DMF': mf, aux, mAP: { noNms: ap[0], nms: ap[1] } });
add(paperRow('table5-fcos', 'FCOS without centerness', fcos({}), t5('FCOS', false, false, [19.0, 40.9])));
add(paperRow('table5-fcos-aux', 'FCOS without centerness + the auxiliary loss (Quality-ATSS)', fcos({ aux: 'quality-atss' }), t5('FCOS', false, true, [18.9, 41.3])));
add(paperRow('table5-fcos-3dmf-post', 'FCOS without centerness; 3DMF as post-processing at inference (trained as table5-fcos)', fcos({}), t5('FCOS', 'post-processing', false, [38.7, 40.0]), { nms: false, maxFilterPost: true }));
add(paperRow('table5-poto', 'POTO, no 3DMF, no aux', defcn({ mf: false, aux: 'none' }), t5('Ours', false, false, [38.0, 38.6])));
add(paperRow('table5-poto-3dmf', 'POTO + 3DMF, no aux', defcn({ aux: 'none' }), t5('Ours', true, false, [39.8, 40.0])));
add(paperRow('table5-poto-3dmf-aux', 'POTO + 3DMF + aux: DeFCN', defcn({}), t5('Ours', true, true, [41.1, 41.2])));

// Table 6: 3DMF's tau × phi (POTO + 3DMF, no aux). mAP w/o / w/ NMS.
const T6 = { 0: [[39.2, 39.5], [39.1, 39.5], [39.0, 39.4]], 2: [[39.0, 39.3], [39.8, 40.0], [39.3, 39.5]], 4: [[39.1, 39.3], [39.3, 39.4], [39.4, 39.6]] };
for (const [tau, rows] of Object.entries(T6)) {
  [1, 3, 5].forEach((phi, i) => {
    add(paperRow(`table6-tau${tau}-phi${phi}`, `POTO + 3DMF with tau ${tau} (levels) and phi ${phi} (window); no aux`,
      defcn({ tau: Number(tau), phi, aux: 'none' }), { table: 6, tau: Number(tau), phi, mAP: { noNms: rows[i][0], nms: rows[i][1] } }));
  });
}

// Table 9: the auxiliary loss's one-to-many rule (POTO + 3DMF). w/o / w/ NMS.
for (const [aux, ap, ap50, ap75] of [['none', [39.8, 40.0], [57.4, 59.1], [43.6, 43.1]], ['fcos', [39.4, 39.8], [57.0, 59.1], [43.4, 43.0]],
  ['atss', [39.8, 40.1], [57.5, 59.5], [44.1, 43.4]], ['quality-fcos', [39.7, 40.0], [57.7, 59.6], [43.6, 43.0]],
  ['quality-atss', [41.1, 41.2], [59.0, 60.7], [45.4, 44.8]], ['quality-topk', [40.7, 41.0], [58.7, 60.4], [44.9, 44.3]]]) {
  const pair = ([noNms, nms]) => ({ noNms, nms });
  add(paperRow(`table9-${aux}`, `POTO + 3DMF with the auxiliary rule '${aux}'`, defcn({ aux }), { table: 9, aux, mAP: pair(ap), AP50: pair(ap50), AP75: pair(ap75) }));
}

// Table 8 (CrowdHuman val): one class, POTO inside the box, 500 detections,
// 800/1400 train and test, public code's 30k schedule at batch 16.
const CH_SCHEDULE = { ...COCO_SCHEDULE, steps: 30000, milestones: [20000, 25000] };
const CH_DATA = { ...COCO_DATA, shortSides: [800], maxSize: 1400, testShortSide: 800, testMaxSize: 1400 };
const CH_INFERENCE = (nms) => ({ detections: 500, scoreThreshold: 0.05, topkPerLevel: 1000, nmsIou: 0.6, nms, protocol: 'crowdhuman' });
const ch = (name, description, model, paper) => [name, { description, paper, train: model.train, infer: model.infer, schedule: CH_SCHEDULE, data: CH_DATA, inference: CH_INFERENCE(model.nms) }];
add(ch('crowdhuman-fcos', 'FCOS on CrowdHuman (centerness on, NMS 0.6, 500 detections)', fcos({ K: 1, centerness: true }), { table: 8, row: 'FCOS', AP50: 86.1, mMR: 55.2, recall: 94.3 }));
add(ch('crowdhuman-poto-3dmf-aux', 'DeFCN on CrowdHuman (POTO inside the box, 3DMF, aux; no NMS, 500 detections)', defcn({ K: 1, prior: 'box' }), { table: 8, row: 'POTO+3DMF+Aux', AP50: 89.2, mMR: 49.6, recall: 96.6 }));

// CPU-sized versions on the generated scenes (10 Fashion-MNIST classes).
// TinyResNet backbone; one image size and one G bucket, so each model is
// one compiled step. small-*: `npm run demo`; tiny-*: `demo --fast` and the
// tests; quality-*: each Table 1 row for `npm run quality`.
const sized = (net, size, sched, minBoxes) => ({
  net,
  schedule: { ...COCO_SCHEDULE, ...sched, checkpointEvery: Math.max(50, Math.round(sched.steps / 4)) },
  data: { shortSides: [size], maxSize: size, testShortSide: size, testMaxSize: size, flip: true, ...IMAGENET, sizeBucket: 32, minBoxes, maxBoxes: 64 },
});
const SIZES = {
  tiny: sized({ depth: 0, C: 16, groups: 4, width: 4 }, 64, { lr: 0.01, warmup: 10, steps: 60, milestones: [], batch: 4 }, 32),
  small: sized({ depth: 0, C: 64, groups: 16, width: 16 }, 128, { lr: 0.01, warmup: 100, steps: 1200, milestones: [900, 1080], batch: 8 }, 32),
  quality: sized({ depth: 0, C: 64, groups: 16, width: 16 }, 160, { lr: 0.01, warmup: 300, steps: 3000, milestones: [2250, 2700], batch: 8 }, 32),
};
const cpu = (name, size, description, model) => {
  const s = SIZES[size];
  return [name, { description: `${description} (${size}, CPU-sized, scenes)`, train: model.train, infer: model.infer, schedule: s.schedule, data: s.data, inference: { ...COCO_INFERENCE(model.nms), detections: 100 } }];
};
for (const size of ['tiny', 'small']) {
  add(cpu(`${size}-defcn`, size, 'DeFCN: POTO + 3DMF + aux', defcn({ K: 10, net: SIZES[size].net })));
  add(cpu(`${size}-fcos`, size, 'FCOS without centerness (Table 1 row)', fcos({ K: 10, net: SIZES[size].net })));
}
const T1 = {
  fcos: (net) => fcos({ K: 10, net }), anchor: (net) => defcn({ K: 10, net, rule: 'anchor', mf: false, aux: 'none' }),
  center: (net) => defcn({ K: 10, net, rule: 'center', mf: false, aux: 'none' }), 'foreground-loss': (net) => defcn({ K: 10, net, rule: 'foreground-loss', mf: false, aux: 'none' }),
  poto: (net) => defcn({ K: 10, net, mf: false, aux: 'none' }), 'poto-3dmf': (net) => defcn({ K: 10, net, aux: 'none' }), 'poto-3dmf-aux': (net) => defcn({ K: 10, net }),
};
for (const [row, make] of Object.entries(T1)) add(cpu(`quality-table1-${row}`, 'quality', `Table 1 row '${row}'`, make(SIZES.quality.net)));

for (const f of readdirSync(DIR)) if (f.endsWith('.json')) unlinkSync(join(DIR, f));
// Lists of numbers on one line: a config reads as a page, not a column.
const text = (cfg) => JSON.stringify(cfg, null, 2).replace(/\[\s+([-\d.e,\s]+?)\s+\]/g, (_, xs) => `[${xs.split(/,\s*/).join(', ')}]`);
for (const [name, cfg] of files) writeFileSync(join(DIR, `${name}.json`), text(cfg) + '\n');
console.log(`wrote ${files.length} configs to ${DIR}`);
