// The state of one walk over a program: check mode (symbolic dims, every
// branch of an unknown condition) or lower mode (concrete dims, a graph
// builder). Expressions, calls and modules are evaluated by the functions in
// expr.ts, call.ts and module.ts against this state.
import { Dim, isConst, showDim } from '../../compiler/dims.js';
import { atLeast, dimsEqual } from './positivity.js';
import { GraphBuilder } from '../../compiler/graph.js';
import { OpDef, ShapeContext, ShapeError, Attrs, AttrValue } from '../../compiler/ops/op.js';
import { ConcreteType, Span, TensorType } from '../../compiler/types.js';
import { Diagnostic, error } from '../diagnostics.js';
import type { Program } from '../program.js';
import { ERROR, Instance, Value, freshSym } from '../values.js';

export type Mode = 'check' | 'lower';

function hasSymbolicAttr(attrs: Attrs): boolean {
  return Object.values(attrs).some((v) => (Array.isArray(v) ? (v as Dim[]).some((d) => !isConst(d)) : typeof v === 'object'));
}

/** An equality or bound the checker could not decide; lowering re-checks it on numbers. */
export interface Assumption {
  what: string;
  span: Span;
  /**
   * 'unify': two dims at a call or a return the checker cannot prove equal
   * (GroupNorm(cin) applied after Conv(cin, cout)); `fusedet check` always
   * lists these. 'op': an op's shape rule on symbols (listed with --verbose).
   */
  kind?: 'unify' | 'op';
}

/** Limits that keep a hostile or mistaken program from running away. */
export const LIMITS = { depth: 64, loop: 4096, nodes: 2_000_000, steps: 3_000_000 };

export class Elab {
  readonly diagnostics: Diagnostic[] = [];
  readonly assumptions: Assumption[] = [];
  private readonly seen = new Set<string>();
  depth = 0;
  /** Expressions evaluated so far: nested loops could otherwise run for hours. */
  steps = 0;
  /** Path prefix for modules created while evaluating a field (undefined: creating modules is not allowed here). */
  fieldPath: string | undefined = undefined;
  fieldFrozen = false;
  /** The instance whose function is running (its path is the graph nodes' scope). */
  current: Instance | undefined = undefined;
  /** The file whose code is running: it sees its own declarations and its imports'. */
  file: string | undefined = undefined;

  constructor(readonly program: Program, readonly mode: Mode, readonly builder: GraphBuilder | undefined) {}

  get lowering(): boolean { return this.mode === 'lower'; }

  /** Whether a declaration made in `declFile` may be used by the running code. */
  sees(declFile: string): boolean {
    if (this.file === undefined) return true;
    return this.program.visible.get(this.file)?.has(declFile) ?? true;
  }

  /** Module creations and function calls being evaluated, innermost last: the context of an error. */
  readonly frames: { what: string; span: Span }[] = [];

  report(span: Span, message: string, hint?: string): Value {
    const key = `${span.file}:${span.line}:${span.col}:${message}`;
    if (!this.seen.has(key)) {
      this.seen.add(key);
      // An error inside a module or function says which creation or call reached it.
      const f = this.frames[this.frames.length - 1];
      const via = f && f.span.line > 0 ? `in ${f.what} at ${f.span.file}:${f.span.line}:${f.span.col}` : undefined;
      this.diagnostics.push(error(span, message, hint && via ? `${hint}; ${via}` : hint ?? via));
    }
    return ERROR;
  }

  errorCount(): number { return this.diagnostics.length; }

  /** Runs a shape rule; a ShapeError (or any other failure of the rule) becomes a diagnostic. */
  shapeOf(def: OpDef, inputs: (TensorType | undefined)[], attrs: Attrs, span: Span, argSpans: (Span | undefined)[], notes: (string | undefined)[] = []): TensorType[] | undefined {
    const ctx: ShapeContext = {
      requireEqual: (a: Dim, b: Dim, what: string, arg?: number) => {
        const eq = dimsEqual(a, b);
        if (eq === false) throw new ShapeError(what, { arg });
        if (eq === undefined) this.assume(what, (arg !== undefined ? argSpans[arg] : undefined) ?? span);
      },
      requireAtLeast: (a: Dim, lo: number, what: string, arg?: number) => {
        const ok = atLeast(a, lo);
        if (ok === false) throw new ShapeError(what, { arg });
        if (ok === undefined) this.assume(what, (arg !== undefined ? argSpans[arg] : undefined) ?? span);
      },
    };
    try {
      const out = def.shape(inputs, attrs, ctx);
      if (this.lowering) {
        for (const t of out) {
          const bad = t.shape.find((d) => !isConst(d));
          if (bad !== undefined) { this.report(span, `${def.name}: output dim ${showDim(bad)} is not known after binding every symbol`); return undefined; }
        }
      }
      return out;
    } catch (e) {
      if (!this.lowering && e instanceof ShapeError && hasSymbolicAttr(attrs)) return this.retryWithUnitAttrs(def, inputs, attrs, span, argSpans);
      const err = e as { message?: string; arg?: number; hint?: string };
      const at = (typeof err.arg === 'number' ? argSpans[err.arg] : undefined) ?? span;
      const msg = e instanceof ShapeError ? e.message : `${def.name}: ${String(err.message ?? e)}`;
      const note = typeof err.arg === 'number' ? notes[err.arg] : undefined;
      const hint = e instanceof ShapeError ? e.hint : undefined;
      this.report(at, msg, note && hint ? `${note}; ${hint}` : note ?? hint);
      return undefined;
    }
  }

  /**
   * A rule that needs a number where the checker has a symbol (groups = G):
   * rerun it with the attr's default there (then with default + 2, keeping
   * parity) to catch what does not depend on it (rank, dtype, channels).
   * Output dims the two runs agree on are kept, the others become unknown
   * (a conv with stride = s keeps its channels, not its height).
   */
  private retryWithUnitAttrs(def: OpDef, inputs: (TensorType | undefined)[], attrs: Attrs, span: Span, argSpans: (Span | undefined)[]): TensorType[] | undefined {
    // Assumptions made with stand-in attrs mean nothing: record none.
    const ctx: ShapeContext = {
      requireEqual: (a, b, what, arg) => { if (dimsEqual(a, b) === false) throw new ShapeError(what, { arg }); },
      requireAtLeast: (a, lo, what, arg) => { if (atLeast(a, lo) === false) throw new ShapeError(what, { arg }); },
    };
    const concrete = (shift: number): Record<string, AttrValue> => {
      const out: Record<string, AttrValue> = {};
      for (const [k, v] of Object.entries(attrs)) {
        const d = def.attrs.find((a) => a.name === k)?.default;
        const fallback = (typeof d === 'number' ? d : Array.isArray(d) && d.length === 1 && typeof d[0] === 'number' ? (d[0] as number) : 1) + shift;
        out[k] = Array.isArray(v) ? (v as Dim[]).map((x) => (isConst(x) ? x : fallback)) : typeof v === 'object' ? fallback : v;
      }
      return out;
    };
    let first: TensorType[];
    try {
      first = def.shape(inputs, concrete(0), ctx);
    } catch (e) {
      if (e instanceof ShapeError) this.report((e.arg !== undefined ? argSpans[e.arg] : undefined) ?? span, e.message, e.hint);
      return undefined;
    }
    try {
      const second = def.shape(inputs, concrete(2), ctx);
      const alike = second.length === first.length && second.every((t, i) => t.dtype === first[i].dtype && t.shape.length === first[i].shape.length);
      if (!alike) return undefined;
      // Dims that differ between the two runs depend on the symbol: unknown.
      return first.map((t, i) => ({ dtype: t.dtype, shape: t.shape.map((d, k) => (dimsEqual(d, second[i].shape[k]) === true ? d : freshSym('d'))) }));
    } catch {
      return undefined;
    }
  }

  /** Records an equality or bound that only numbers can decide (lowering re-checks it); `fusedet check` lists them. */
  assume(what: string, span: Span, kind: 'unify' | 'op' = 'op'): void {
    if (this.assumptions.length < 10_000) this.assumptions.push({ what, span, kind });
  }

  /** Appends an op node (lower mode) and returns its outputs as tensor values. */
  emit(op: string, inputs: (Value | undefined)[], attrs: Attrs, outs: TensorType[], span: Span): Value[] {
    if (!this.builder) return outs.map((type) => ({ kind: 'tensor', type, id: -1 }));
    if (this.builder.graph.nodes.length >= LIMITS.nodes) { this.report(span, `the graph exceeds ${LIMITS.nodes} nodes`); return outs.map(() => ERROR); }
    const ids = inputs.map((v) => (v && v.kind === 'tensor' ? v.id : -1));
    const ctypes = outs as ConcreteType[];
    const vs = this.builder.node(op, ids, attrs, ctypes, span, this.current?.path ?? '');
    return vs.map((id, i) => ({ kind: 'tensor', type: outs[i], id }));
  }

  /** A scalar constant with a given dtype (a literal next to a tensor). */
  constant(value: number, dtype: TensorType['dtype'], span: Span): Value {
    const type: ConcreteType = { dtype, shape: [] };
    if (!this.builder) return { kind: 'tensor', type, id: -1 };
    return { kind: 'tensor', type, id: this.builder.constant(value, type, span, this.current?.path ?? '') };
  }
}
