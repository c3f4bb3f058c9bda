// Reading attrs inside shape rules and references. Int attrs are Dims: the
// checker may pass symbols, so each reader says whether it needs a number.
import { Dim, DimExpr, isConst, showDim } from '../dims.js';
import { DType, DTYPES } from '../types.js';
import { Attrs, AttrValue, OpDef, ShapeError } from './op.js';

/** An attr value as the user wrote it, for messages. */
export function showAttr(v: AttrValue): string {
  if (v instanceof DimExpr) return showDim(v);
  if (Array.isArray(v)) return `[${v.map((x) => showAttr(x as AttrValue)).join(', ')}]`;
  return JSON.stringify(v);
}

function get(op: string, attrs: Attrs, name: string): AttrValue {
  const v = attrs[name];
  if (v === undefined) throw new ShapeError(`${op}: missing attribute '${name}'`);
  return v;
}

function integral(op: string, name: string, d: Dim): Dim {
  if (typeof d === 'number' && !Number.isInteger(d)) throw new ShapeError(`${op}: attribute '${name}' must be an integer, got ${d}`);
  if (typeof d !== 'number' && !(d instanceof DimExpr)) throw new ShapeError(`${op}: attribute '${name}' must be integers, got ${showAttr(d as AttrValue)}`);
  return d;
}

/** An int attr that may stay symbolic (topk's k, reshape's sizes). */
export function dimAttr(op: string, attrs: Attrs, name: string): Dim {
  const v = get(op, attrs, name);
  if (Array.isArray(v)) {
    if (v.length === 1) return integral(op, name, v[0] as Dim);
    throw new ShapeError(`${op}: attribute '${name}' must be one integer, got ${v.length} values`);
  }
  if (typeof v === 'boolean' || typeof v === 'string') throw new ShapeError(`${op}: attribute '${name}' must be an integer, got ${showAttr(v)}`);
  return integral(op, name, v as Dim);
}

function concrete(op: string, name: string, d: Dim): number {
  if (!isConst(d)) throw new ShapeError(`${op}: attribute '${name}' must be a known integer, got ${showDim(d)}`, { hint: 'write a number or a constructor parameter bound to a number' });
  if (!Number.isInteger(d)) throw new ShapeError(`${op}: attribute '${name}' must be an integer, got ${d}`);
  return d;
}

/** An int attr the rule needs as a number (axis, stride, groups). */
export function intAttr(op: string, attrs: Attrs, name: string): number {
  return concrete(op, name, dimAttr(op, attrs, name));
}

/** An `ints` attr: one value applied to all `n` dims, or exactly `n` values (n undefined: any length). */
export function dimsAttr(op: string, attrs: Attrs, name: string, n?: number): Dim[] {
  const v = get(op, attrs, name);
  if (typeof v === 'boolean' || typeof v === 'string') throw new ShapeError(`${op}: attribute '${name}' must be integers, got ${showAttr(v)}`);
  const list: Dim[] = (Array.isArray(v) ? [...(v as readonly Dim[])] : [v as Dim]).map((d) => integral(op, name, d));
  if (n === undefined) return list;
  if (list.length === 1) return new Array<Dim>(n).fill(list[0]);
  if (list.length !== n) throw new ShapeError(`${op}: attribute '${name}' needs 1 or ${n} values, got ${list.length}`);
  return list;
}

export function intsAttr(op: string, attrs: Attrs, name: string, n?: number): number[] {
  return dimsAttr(op, attrs, name, n).map((d) => concrete(op, name, d));
}

export function floatAttr(op: string, attrs: Attrs, name: string): number {
  const v = get(op, attrs, name);
  if (typeof v !== 'number') throw new ShapeError(`${op}: attribute '${name}' must be a number, got ${showAttr(v)}`);
  return v;
}

export function boolAttr(op: string, attrs: Attrs, name: string): boolean {
  const v = get(op, attrs, name);
  if (typeof v !== 'boolean') throw new ShapeError(`${op}: attribute '${name}' must be true or false, got ${showAttr(v)}`);
  return v;
}

export function stringAttr(op: string, attrs: Attrs, name: string, choices?: readonly string[]): string {
  const v = get(op, attrs, name);
  if (typeof v !== 'string') throw new ShapeError(`${op}: attribute '${name}' must be a string, got ${showAttr(v)}`);
  if (choices && !choices.includes(v)) throw new ShapeError(`${op}: attribute '${name}' must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

export function dtypeAttr(op: string, attrs: Attrs, name: string): DType {
  return stringAttr(op, attrs, name, DTYPES) as DType;
}

/** Python-style axis: -1 is the last; out of range is the user's mistake. */
export function normAxis(op: string, axis: number, rank: number, what = 'axis', arg?: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`${op}: ${what} ${axis} is out of range for a tensor of rank ${rank}`, { arg, hint: `use an axis in [${-rank}, ${rank - 1}]` });
  return a;
}

/** The attrs a node carries with every spec default filled in (the interpreter and tests call ops this way). */
export function withDefaults(def: OpDef, attrs: Attrs): Attrs {
  const out: Record<string, AttrValue> = { ...attrs };
  for (const s of def.attrs) if (out[s.name] === undefined && s.default !== undefined) out[s.name] = s.default;
  return out;
}

/** A number attr as a kernel lowering reads it: the graph node's value, or `fallback` where the node has none. */
export function numberAttrOr(attrs: Attrs, name: string, fallback: number): number {
  const v = attrs[name];
  return typeof v === 'number' ? v : fallback;
}
