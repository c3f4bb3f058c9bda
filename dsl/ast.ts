// The syntax tree. Every node carries the span it was parsed from, so the
// checker and lowering can point at the exact place of a mistake.
import { Span } from '../compiler/types.js';

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'and' | 'or';

export type Expr =
  | { kind: 'int'; value: number; span: Span }
  | { kind: 'float'; value: number; span: Span }
  | { kind: 'bool'; value: boolean; span: Span }
  | { kind: 'string'; value: string; span: Span }
  | { kind: 'name'; name: string; span: Span }
  | { kind: 'unary'; op: '-' | 'not'; arg: Expr; span: Span }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
  | { kind: 'call'; callee: Expr; args: Arg[]; span: Span }
  | { kind: 'index'; target: Expr; index: Expr; span: Span }
  | { kind: 'member'; target: Expr; name: string; nameSpan: Span; span: Span }
  | { kind: 'tuple'; items: Expr[]; span: Span }
  | { kind: 'list'; items: Expr[]; span: Span }
  /** `[for v in from..to: body]` or `[for v in seq: body]` (to absent). */
  | { kind: 'comp'; variable: string; varSpan: Span; from: Expr; to: Expr | undefined; body: Expr; span: Span };

export interface Arg { name: string | undefined; nameSpan: Span | undefined; value: Expr; span: Span }

export type ScalarTypeName = 'int' | 'float' | 'bool' | 'string' | 'init';

export type TypeExpr =
  | { kind: 'tensor'; dtype: string; dims: Expr[]; span: Span }
  | { kind: 'scalar'; name: ScalarTypeName; span: Span }
  | { kind: 'tuple'; items: TypeExpr[]; span: Span };

export type Pattern =
  | { kind: 'name'; name: string; span: Span }
  | { kind: 'tuple'; items: Pattern[]; span: Span };

export type Stmt =
  | { kind: 'let'; pattern: Pattern; value: Expr; span: Span }
  | { kind: 'return'; value: Expr; span: Span }
  | { kind: 'if'; cond: Expr; then: Stmt[]; otherwise: Stmt[] | undefined; span: Span };

export interface FnParam { name: string; type: TypeExpr; span: Span }

export type Constraint =
  | { kind: 'expr'; expr: Expr; span: Span }
  | { kind: 'bucket'; name: string; word: string; span: Span }
  /** `depth in [18, 34, 50, 101]`: the value must be one of a static list (module constructor arguments, dims). */
  | { kind: 'in'; name: string; nameSpan: Span; values: Expr; span: Span };

export interface FnDecl {
  name: string;
  nameSpan: Span;
  params: FnParam[];
  ret: TypeExpr | undefined;
  where: Constraint[];
  body: Stmt[];
  span: Span;
}

export type ModuleItem =
  | { kind: 'param'; frozen: boolean; name: string; nameSpan: Span; type: TypeExpr; init: Expr | undefined; span: Span }
  | { kind: 'field'; frozen: boolean; name: string; nameSpan: Span; value: Expr; span: Span }
  | { kind: 'if'; cond: Expr; then: ModuleItem[]; otherwise: ModuleItem[] | undefined; span: Span }
  | { kind: 'fn'; fn: FnDecl; span: Span };

export interface CtorParam { name: string; type: ScalarTypeName; default: Expr | undefined; span: Span }

export interface ModuleDecl {
  name: string;
  nameSpan: Span;
  params: CtorParam[];
  /** Constraints on the constructor arguments, checked at every creation (`where depth in [18, 34]`). */
  where: Constraint[];
  items: ModuleItem[];
  span: Span;
}

export interface ImportDecl { path: string; span: Span }

export interface FileAst {
  path: string;
  imports: ImportDecl[];
  modules: ModuleDecl[];
  fns: FnDecl[];
}
