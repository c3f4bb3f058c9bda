// COCO files beside the CrowdHuman protocol. A scenes folder has both
// annotations.json (COCO, image ids 1, 2, …) and annotations.odgt (IDs are
// the image file stems, with ignore flags): COCO results name images by id,
// so the id → ID map goes through the COCO file's `file_name`. A COCO file
// alone also works as ground truth: crowd/ignore annotations become ignore
// regions, the category name becomes the tag.
import { existsSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { CocoDataset } from '../../data/coco.js';
import type { OdgtGtRecord } from '../../data/odgt.js';

export function stemOf(fileName: string): string {
  return basename(fileName, extname(fileName));
}

/** Path with its extension replaced, or null when that file does not exist. */
export function sibling(path: string, ext: string): string | null {
  const p = path.slice(0, path.length - extname(path).length) + ext;
  return p !== path && existsSync(p) ? p : null;
}

/** COCO image id → file stem, for images that have a file name. */
export function imageIdToStem(ds: CocoDataset): Map<string, string> {
  const out = new Map<string, string>();
  for (const im of ds.images) if (im.fileName) out.set(String(im.id), stemOf(im.fileName));
  return out;
}

/** The COCO annotations as odgt ground truth, ID = String(image id). */
export function* cocoAsOdgt(ds: CocoDataset): Generator<OdgtGtRecord> {
  const a = ds.annotations;
  for (let i = 0; i < ds.images.length; i++) {
    const im = ds.images[i]!;
    const [start, end] = ds.annotationRange(i);
    const gtboxes: OdgtGtRecord['gtboxes'] = [];
    for (let r = start; r < end; r++) {
      const b = a.bbox;
      gtboxes.push({
        tag: ds.categories[a.categoryIndex[r]!]!.name,
        fbox: [b[4 * r]!, b[4 * r + 1]!, b[4 * r + 2]!, b[4 * r + 3]!],
        extra: { ignore: a.iscrowd[r] || a.ignore[r] ? 1 : 0 },
      });
    }
    const rec: OdgtGtRecord = { id: String(im.id), gtboxes, line: 0 };
    if (im.width > 0 && im.height > 0) { rec.width = im.width; rec.height = im.height; }
    yield rec;
  }
}
