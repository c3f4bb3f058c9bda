// Lowering a checked program to a graph, with concrete dims: the
// elaborator's work (dsl/elab/lower.ts), so the compiler sees only this
// narrow interface — a Program and options in, a Graph out — and none of the
// elaborator's internals.
export { lower, entryInputs, showType } from '../dsl/elab/lower.js';
export type { LowerOptions } from '../dsl/elab/lower.js';
