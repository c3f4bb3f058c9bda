// Splitting a program's kernels into translation units: one per core, so the
// compiler processes run in parallel, but no more units than there is source
// to justify (each cc start costs 0.3–1 s here).
import type { Program } from '../compiler/program.js';

export type RenderC = (program: Program) => string;

/** Below this much C, one unit compiles faster than several processes start. */
const MIN_UNIT_CHARS = 24_000;

/**
 * Renders the program as up to `lanes` units with balanced source sizes. Each
 * unit is the renderer's output for a program holding a subset of the
 * kernels, so helpers appear where used; the renderer must make them static.
 */
export function splitUnits(program: Program, render: RenderC, lanes: number, whole = render(program)): string[] {
  if (lanes <= 1 || program.kernels.length <= 1 || whole.length < 2 * MIN_UNIT_CHARS) return [whole];
  const count = Math.min(lanes, program.kernels.length, Math.floor(whole.length / MIN_UNIT_CHARS));
  const sized = program.kernels.map((k, i) => ({ i, size: render(subset(program, [k])).length }));
  sized.sort((a, b) => b.size - a.size || a.i - b.i);
  const bins = Array.from({ length: count }, () => ({ size: 0, kernels: [] as number[] }));
  for (const k of sized) {
    const bin = bins.reduce((m, b) => (b.size < m.size ? b : m));
    bin.size += k.size;
    bin.kernels.push(k.i);
  }
  return bins.map((b) => render(subset(program, b.kernels.sort((x, y) => x - y).map((i) => program.kernels[i]))));
}

function subset(program: Program, kernels: Program['kernels']): Program {
  return { ...program, kernels, launches: [] };
}
