// The two annotation files a scene folder carries.
//
// COCO (annotations.json): every object is a normal box (iscrowd 0), heavily
// occluded ones included, as COCO annotates occluded objects; `bbox` is the
// full (amodal) box, matching the odgt `fbox` the CrowdHuman metrics use, and
// `area` is the box's w·h: these are box annotations, and pycocotools sorts
// GT into its small/medium/large ranges by `area` while it measures
// detections by box, so box area keeps the two on one scale (the item's pixel
// count would put almost nothing in "large" at 128 px).
// Two extra fields, ignored by COCO tools, keep the occlusion: `visible`
// (fraction) and `vbox`.
// Items cut by the frame have their boxes clipped to the image in both files
// (CrowdHuman's own fbox may reach outside; training and the metrics clip
// anyway), and the part outside counts as not visible.
// odgt (annotations.odgt): one JSON line per image, CrowdHuman style; objects
// less than IGNORE_BELOW visible carry extra.ignore = 1 (ignore regions in
// the crowd metrics, background for training).
import { FASHION_CLASSES } from '../fashion-mnist/reader.js';
import type { SceneObject } from './compose.js';

export const IGNORE_BELOW = 0.3;

export interface SceneRecord {
  readonly stem: string;
  readonly size: number;
  readonly objects: readonly SceneObject[];
}

/** COCO image ids are 1-based (some tools treat id 0 as missing); file 000000.png is id 1. */
export function cocoJson(records: readonly SceneRecord[], info: { description: string; source: string }): string {
  let annId = 0;
  const images = records.map((r, i) => ({ id: i + 1, file_name: `${r.stem}.png`, width: r.size, height: r.size }));
  const annotations = records.flatMap((r, i) => r.objects.map((o) => ({
    id: ++annId,
    image_id: i + 1,
    category_id: o.label + 1,
    bbox: o.fbox,
    area: o.fbox[2] * o.fbox[3],
    iscrowd: 0,
    visible: Math.round(o.visible * 1e4) / 1e4,
    vbox: o.vbox,
  })));
  const categories = FASHION_CLASSES.map((name, k) => ({ id: k + 1, name, supercategory: 'fashion' }));
  // One record per line: readable with grep, still one JSON value.
  const lines = [
    `{"info":${JSON.stringify(info)},`,
    `"licenses":[],`,
    `"categories":${JSON.stringify(categories)},`,
    `"images":[\n${images.map((x) => JSON.stringify(x)).join(',\n')}\n],`,
    `"annotations":[\n${annotations.map((x) => JSON.stringify(x)).join(',\n')}\n]}`,
  ];
  return lines.join('\n') + '\n';
}

export function odgtLine(r: SceneRecord): string {
  return JSON.stringify({
    ID: r.stem,
    width: r.size,
    height: r.size,
    gtboxes: r.objects.map((o) => ({
      tag: FASHION_CLASSES[o.label],
      fbox: o.fbox,
      vbox: o.vbox,
      extra: { ignore: o.visible < IGNORE_BELOW ? 1 : 0, visible: Math.round(o.visible * 1e4) / 1e4 },
    })),
  });
}
