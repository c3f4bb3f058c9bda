// Ground truth for the CrowdHuman protocol: which boxes count and which are
// ignore regions. Person mode follows the reference (only tag `person`
// counts); class-agnostic mode, for our multi-class scenes, counts every tag
// except `mask` and boxes with `extra.ignore` ≠ 0.
import { isIgnoreBox, type OdgtGtBox, type OdgtGtRecord } from '../../data/odgt.js';
import { GtKind } from './match.js';
import type { ScoredImage } from './score.js';

export type CrowdClasses = 'auto' | 'person' | 'agnostic';

/** Tags a CrowdHuman file has; any other tag makes `auto` class-agnostic. */
const CROWDHUMAN_TAGS = new Set(['person', 'mask']);

export function gtKind(b: OdgtGtBox, agnostic: boolean): GtKind {
  if (isIgnoreBox(b)) return GtKind.Ignore;
  if (agnostic) return b.tag === 'mask' ? GtKind.Ignore : GtKind.Counted;
  if (b.tag === 'person') return GtKind.Counted;
  return b.tag === 'background' ? GtKind.Background : GtKind.Ignore;
}

export interface GtIndex {
  images: Map<string, ScoredImage>;
  classAgnostic: boolean;
  tagsAsIgnore: string[];
}

/**
 * Builds the per-image arrays one record at a time (a large GT file is never
 * held as objects). Kinds are decided at the end, since `auto` depends on
 * every tag in the file.
 */
export class GtIndexBuilder {
  private readonly pending: { id: string; width?: number; height?: number; boxes: Float64Array; tagIds: Uint32Array; ignore: Uint8Array }[] = [];
  private readonly tagIds = new Map<string, number>();
  private readonly seen = new Set<string>();

  has(id: string): boolean { return this.seen.has(id); }

  /** Returns false (and keeps nothing) for an ID already added. */
  add(r: OdgtGtRecord): boolean {
    if (this.seen.has(r.id)) return false;
    this.seen.add(r.id);
    const n = r.gtboxes.length;
    const boxes = new Float64Array(4 * n), tagIds = new Uint32Array(n), ignore = new Uint8Array(n);
    r.gtboxes.forEach((b, j) => {
      const [x, y, w, h] = b.fbox;
      boxes.set([x, y, x + w, y + h], 4 * j);
      let t = this.tagIds.get(b.tag);
      if (t === undefined) { t = this.tagIds.size; this.tagIds.set(b.tag, t); }
      tagIds[j] = t;
      ignore[j] = isIgnoreBox(b) ? 1 : 0;
    });
    const p: (typeof this.pending)[number] = { id: r.id, boxes, tagIds, ignore };
    if (r.width !== undefined) p.width = r.width;
    if (r.height !== undefined) p.height = r.height;
    this.pending.push(p);
    return true;
  }

  finish(classes: CrowdClasses): GtIndex {
    const tags = [...this.tagIds.keys()];
    const agnostic = classes === 'agnostic' || (classes === 'auto' && tags.some((t) => !CROWDHUMAN_TAGS.has(t)));
    const kindOfTag = tags.map((tag) => gtKind({ tag, fbox: [0, 0, 0, 0] }, agnostic));
    const images = new Map<string, ScoredImage>();
    this.pending.forEach((p, order) => {
      const kinds = new Int8Array(p.tagIds.length);
      p.tagIds.forEach((t, j) => { kinds[j] = p.ignore[j] ? GtKind.Ignore : kindOfTag[t]!; });
      const img: ScoredImage = { id: p.id, order, boxes: p.boxes, kinds, matched: false };
      if (p.width !== undefined) img.width = p.width;
      if (p.height !== undefined) img.height = p.height;
      images.set(p.id, img);
    });
    this.pending.length = 0;
    const tagsAsIgnore = agnostic ? [] : tags.filter((t) => !CROWDHUMAN_TAGS.has(t)).sort();
    return { images, classAgnostic: agnostic, tagsAsIgnore };
  }
}
