// JSON for documents that carry kernel IR: JSON has no ±Infinity or NaN
// (JSON.stringify writes them as null, and the WGSL renderer would read a null
// constant as −∞), yet kernels hold them: the +∞ and −∞ starts of min/max
// reductions, top-k, NMS and the assignment's costs. Every number that is not
// finite travels as {"$nonfinite": "Infinity" | "-Infinity" | "NaN"} and comes
// back as itself. No Node imports: the browser entry uses it too.

const NONFINITE = '$nonfinite';

function encodeNumber(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? { [NONFINITE]: String(v) } : v;
}

function decodeNumber(_key: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  const tag = o[NONFINITE];
  if (typeof tag !== 'string' || Object.keys(o).length !== 1) return v;
  if (tag !== 'Infinity' && tag !== '-Infinity' && tag !== 'NaN') throw new SyntaxError(`"${NONFINITE}": "${tag}" is not Infinity, -Infinity or NaN`);
  return Number(tag);
}

/** JSON text of `value` with non-finite numbers kept (see above). */
export function stringifyKeepingNonFinite(value: unknown, indent?: number): string {
  return JSON.stringify(value, encodeNumber, indent);
}

/** Parses what stringifyKeepingNonFinite wrote (plain JSON reads the same as JSON.parse). */
export function parseKeepingNonFinite(text: string): unknown {
  return JSON.parse(text, decodeNumber);
}
