// The fallback for a kernel that binds more storage buffers than the device
// allows per stage although fusion cut every group at the target's limit
// (compiler/fuse.ts): one op that alone binds more (max3d_argmax_grad over 5
// levels: 15 buffers; max3d: 10). Some of its read-only buffers are copied,
// before each launch, into one packed buffer the kernel reads through a
// single binding (compiler/render/wgsl.ts `packed`). Costs one copy of those
// buffers per launch of such a kernel only; the alternative is refusing the
// program until those ops schedule one launch per level.

export interface PackPlan {
  /** Kernel buffer indices read through the pack, in slot order. */
  readonly packed: readonly number[];
  /** Word offset of each packed buffer inside the pack. */
  readonly offsets: readonly number[];
  /** Device bytes of each packed buffer (multiples of 4). */
  readonly sizes: readonly number[];
  readonly bytes: number;
}

/**
 * The pack for a launch of `count` buffers under `limit` storage bindings,
 * or undefined when none is needed or there are too few read-only buffers
 * (the pipeline check then reports the limit). The last read-only buffers are
 * packed, so every launch of a kernel packs the same ones.
 */
export function packPlan(readOnly: readonly boolean[], deviceSizes: readonly number[], limit: number): PackPlan | undefined {
  const count = readOnly.length;
  if (count <= limit) return undefined;
  const need = count - limit + 1;
  const candidates = readOnly.map((r, i) => (r ? i : -1)).filter((i) => i >= 0);
  if (candidates.length < need) return undefined;
  const packed = candidates.slice(candidates.length - need);
  const offsets: number[] = [], sizes: number[] = [];
  let words = 0;
  for (const i of packed) {
    offsets.push(words);
    sizes.push(deviceSizes[i]);
    words += deviceSizes[i] / 4;
  }
  return { packed, offsets, sizes, bytes: 4 * words };
}
