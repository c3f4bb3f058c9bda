// Liveness-based buffer planning. Graph inputs, params and outputs get a
// buffer each for the whole program; a temporary takes a free buffer of its
// dtype (best fit, growing it when needed) from the first launch that
// writes it to the last that reads it, so a buffer id names a slot that
// several temporaries share over time.
import { DType } from './types.js';

export interface PlanValue {
  /** Graph value id. */
  value: number;
  bytes: number;
  dtype: DType;
  role: 'input' | 'param' | 'output' | 'temp';
  name?: string;
  /** Launch index that writes it (-1 for inputs and params). */
  def: number;
  /** Last launch index that reads it (-1 when never read). */
  lastUse: number;
}

export interface PlannedBuffer { id: number; bytes: number; dtype: DType; role: PlanValue['role']; name?: string }

export interface BufferPlan {
  buffers: PlannedBuffer[];
  /** Graph value id → buffer id. */
  bufferOf: Map<number, number>;
  /** Sum of all buffer sizes: what a runtime allocating each buffer once holds. */
  peakBytes: number;
  /** Bytes of temporaries if none were shared (for reports). */
  unsharedTempBytes: number;
}

export function planBuffers(values: readonly PlanValue[], reuse = true): BufferPlan {
  const buffers: PlannedBuffer[] = [];
  const bufferOf = new Map<number, number>();
  for (const v of values) {
    if (v.role === 'temp') continue;
    const b: PlannedBuffer = { id: buffers.length, bytes: v.bytes, dtype: v.dtype, role: v.role, ...(v.name !== undefined ? { name: v.name } : {}) };
    buffers.push(b);
    bufferOf.set(v.value, b.id);
  }
  const temps = values.filter((v) => v.role === 'temp').sort((a, b) => a.def - b.def || b.bytes - a.bytes);
  /** Buffer id → launch index after which it is free. */
  const busyUntil = new Map<number, number>();
  let unsharedTempBytes = 0;
  for (const t of temps) {
    unsharedTempBytes += t.bytes;
    const end = Math.max(t.def, t.lastUse);
    let best: PlannedBuffer | undefined;
    if (reuse) {
      for (const b of buffers) {
        if (b.role !== 'temp' || b.dtype !== t.dtype || busyUntil.get(b.id)! >= t.def) continue;
        // Best fit: the smallest buffer that holds it, else the largest to grow.
        if (!best) { best = b; continue; }
        const fits = b.bytes >= t.bytes, bestFits = best.bytes >= t.bytes;
        if ((fits && (!bestFits || b.bytes < best.bytes)) || (!fits && !bestFits && b.bytes > best.bytes)) best = b;
      }
    }
    if (!best) {
      best = { id: buffers.length, bytes: t.bytes, dtype: t.dtype, role: 'temp' };
      buffers.push(best);
    }
    best.bytes = Math.max(best.bytes, t.bytes);
    busyUntil.set(best.id, end);
    bufferOf.set(t.value, best.id);
  }
  return { buffers, bufferOf, peakBytes: buffers.reduce((s, b) => s + b.bytes, 0), unsharedTempBytes };
}
