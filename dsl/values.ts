// What expressions evaluate to. The checker and lowering share one walk: in
// the checker ints may be symbolic Dims and bools/floats may be unknown
// (undefined); in lowering everything is concrete and tensors carry graph
// value ids.
import { Dim, isConst, showDim, sym } from '../compiler/dims.js';
import { Init } from '../compiler/graph.js';
import { TensorType, showType } from '../compiler/types.js';
import type { ModuleDecl } from './ast.js';
import type { Scope } from './scope.js';

export interface Instance {
  readonly decl: ModuleDecl;
  /** Dotted path of the instance, the prefix of its parameters' names ('' for the entry). */
  readonly path: string;
  /** Constructor arguments, parameters and fields. */
  readonly scope: Scope;
  readonly frozen: boolean;
}

export type Value =
  /** note: where a parameter was declared, added to hints of errors that blame it. */
  | { kind: 'tensor'; type: TensorType; id: number; note?: string }
  | { kind: 'int'; v: Dim }
  | { kind: 'float'; v: number | undefined }
  | { kind: 'bool'; v: boolean | undefined }
  | { kind: 'string'; v: string | undefined }
  | { kind: 'init'; init: Init | undefined }
  /** Tuples and lists. With a symbolic length, items holds one representative element. */
  | { kind: 'seq'; items: Value[]; len: Dim }
  | { kind: 'module'; inst: Instance }
  /** The result of an erroneous expression: suppresses follow-on errors. */
  | { kind: 'error' };

export const ERROR: Value = { kind: 'error' };

export function seqOf(items: Value[]): Value { return { kind: 'seq', items, len: items.length }; }

let freshCounter = 0;
/** A symbol no user can write (names cannot contain '#'). */
export function freshSym(hint: string): Dim { return sym(`${hint}#${++freshCounter}`); }

export function describe(v: Value): string {
  switch (v.kind) {
    case 'tensor': return `tensor ${showType(v.type)}`;
    case 'int': return isConst(v.v) ? `int ${v.v}` : `int ${showDim(v.v)}`;
    case 'float': return 'float';
    case 'bool': return 'bool';
    case 'string': return 'string';
    case 'init': return 'initialiser';
    case 'seq': return `tuple of ${isConst(v.len) ? v.len : showDim(v.len)}`;
    case 'module': return `module ${v.inst.decl.name}`;
    case 'error': return 'error';
  }
}

export function isError(v: Value): boolean { return v.kind === 'error'; }
