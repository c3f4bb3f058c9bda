// `NAME in [v1, v2, ...]` constraints: a constructor argument (or a dim) that
// has a fixed set of meanings. ResNet's depth selects block counts from a
// table; depth 7 or 1000 would otherwise build some other network without a
// word, so `module ResNet(depth: int) where depth in [18, 34, 50, 101]`
// refuses it at the creation, naming the allowed values and the constraint.
import { isConst } from '../../compiler/dims.js';
import type { Span } from '../../compiler/types.js';
import type { Constraint, Expr } from '../ast.js';
import type { Scope } from '../scope.js';
import { Value, describe } from '../values.js';
import type { Elab } from './elab.js';

type InConstraint = Extract<Constraint, { kind: 'in' }>;

/** A static scalar as a comparable key ('int 18', 'string "nearest"'), or undefined when not known. */
function keyOf(v: Value): string | undefined {
  switch (v.kind) {
    case 'int': return isConst(v.v) ? `n${v.v}` : undefined;
    case 'float': return v.v === undefined ? undefined : `n${v.v}`;
    case 'string': return v.v === undefined ? undefined : `s${v.v}`;
    case 'bool': return v.v === undefined ? undefined : `b${v.v}`;
    default: return undefined;
  }
}

function show(v: Value): string {
  if (v.kind === 'int' && isConst(v.v)) return String(v.v);
  if ((v.kind === 'float' || v.kind === 'bool') && v.v !== undefined) return String(v.v);
  if (v.kind === 'string' && v.v !== undefined) return JSON.stringify(v.v);
  return describe(v);
}

/**
 * The allowed values of an `in` constraint: a list of static scalars. A list
 * that is not one is an error at the constraint (reported once per check).
 */
function allowed(el: Elab, scope: Scope, c: InConstraint, evalExpr: (s: Scope, e: Expr) => Value): Value[] | undefined {
  const list = evalExpr(scope, c.values);
  if (list.kind === 'error') return undefined;
  if (list.kind !== 'seq' || !isConst(list.len) || list.items.some((x) => keyOf(x) === undefined)) {
    el.report(c.values.span, `'${c.name} in ...' needs a list of constant values, got ${describe(list)}`, `e.g. where ${c.name} in [18, 34, 50, 101]`);
    return undefined;
  }
  return list.items;
}

/**
 * Checks `c` against the value NAME has in `scope`. A symbolic value (a
 * module checked on its own) is not decided here: lowering decides it with
 * numbers. `at` is where a violation is reported (the creation or argument).
 */
export function checkIn(el: Elab, scope: Scope, c: InConstraint, at: Span, who: string, evalExpr: (s: Scope, e: Expr) => Value): boolean {
  const v = scope.get(c.name);
  if (v === undefined) {
    el.report(c.nameSpan, `'${c.name}' in a where-constraint is not a ${who.endsWith(')') ? 'constructor parameter' : 'dim'} of ${who}`);
    return false;
  }
  const values = allowed(el, scope, c, evalExpr);
  if (!values) return false;
  if (v.kind === 'error') return false;
  const key = keyOf(v);
  if (key === undefined) return true;
  if (values.some((x) => keyOf(x) === key)) return true;
  el.report(at, `${who}: ${c.name} = ${show(v)} is not one of ${values.map(show).join(', ')}`,
    `declared at ${c.span.file}:${c.span.line}:${c.span.col}: where ${c.name} in [${values.map(show).join(', ')}]`);
  return false;
}
