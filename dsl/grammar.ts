// The grammar: a chevrotain parser with embedded actions that build the AST
// directly (dsl/ast.ts). parser.ts drives it.
import { EmbeddedActionsParser, IToken } from 'chevrotain';
import * as T from './lexer.js';
import { Span } from '../compiler/types.js';
import type { Arg, BinaryOp, Constraint, CtorParam, Expr, FnDecl, FnParam, ImportDecl, ModuleDecl, ModuleItem, Pattern, ScalarTypeName, Stmt, TypeExpr } from './ast.js';
import { messages } from './syntax-messages.js';

export function tokSpan(file: string, t: IToken): Span {
  if (!t) return { file, line: 0, col: 0, endLine: 0, endCol: 0 };
  const ok = (n: number | undefined): number => (n === undefined || Number.isNaN(n) ? 0 : n);
  return { file, line: ok(t.startLine), col: ok(t.startColumn), endLine: ok(t.endLine), endCol: ok(t.endColumn) + 1 };
}
const NOWHERE: Span = { file: '', line: 0, col: 0, endLine: 0, endCol: 0 };
// Tolerates undefined parts: during chevrotain's grammar recording subrules return nothing.
function join(a: Span | undefined, b: Span | undefined): Span {
  if (!a) return b ?? NOWHERE;
  return b ? { file: a.file, line: a.line, col: a.col, endLine: b.endLine, endCol: b.endCol } : a;
}

const BIN: Record<string, BinaryOp> = {
  Plus: '+', Minus: '-', Star: '*', Slash: '/', Percent: '%', EqEq: '==', NotEq: '!=', Less: '<', LessEq: '<=',
  Greater: '>', GreaterEq: '>=', And: 'and', Or: 'or',
};

const binOf = (t: IToken | undefined): BinaryOp => BIN[t?.tokenType?.name ?? ''] ?? '+';

export class FdParser extends EmbeddedActionsParser {
  file = '';
  constructor() {
    super(T.allTokens, { maxLookahead: 3, errorMessageProvider: messages });
    this.performSelfAnalysis();
  }
  private sp(t: IToken | undefined): Span { return t ? tokSpan(this.file, t) : NOWHERE; }

  /** Declarations parsed so far; kept when a later one fails. */
  collected: (ImportDecl | ModuleDecl | FnDecl)[] = [];

  fileRule = this.RULE('fileRule', (): void => {
    this.MANY(() => { const item = this.SUBRULE(this.topItem); this.ACTION(() => this.collected.push(item)); });
  });

  topItem = this.RULE('topItem', (): ImportDecl | ModuleDecl | FnDecl => this.OR([
    { ALT: () => this.SUBRULE(this.importDecl) },
    { ALT: () => this.SUBRULE(this.moduleDecl) },
    { ALT: () => this.SUBRULE(this.fnDecl) },
  ]));

  importDecl = this.RULE('importDecl', (): ImportDecl => {
    const k = this.CONSUME(T.Import);
    const s = this.CONSUME(T.StringLit);
    return { path: s.image.slice(1, -1), span: join(this.sp(k), this.sp(s)) };
  });

  moduleDecl = this.RULE('moduleDecl', (): ModuleDecl => {
    const k = this.CONSUME(T.Module);
    const name = this.CONSUME(T.Ident);
    const params: CtorParam[] = [];
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => params.push(this.SUBRULE(this.ctorParam)) });
    this.CONSUME(T.RParen);
    const where: Constraint[] = [];
    this.OPTION(() => {
      this.CONSUME(T.Where);
      this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => where.push(this.SUBRULE(this.constraint)) });
    });
    this.CONSUME(T.LBrace);
    const items: ModuleItem[] = [];
    this.MANY(() => items.push(this.SUBRULE(this.moduleItem)));
    const end = this.CONSUME(T.RBrace);
    return { name: name.image, nameSpan: this.sp(name), params, where, items, span: join(this.sp(k), this.sp(end)) };
  });

  ctorParam = this.RULE('ctorParam', (): CtorParam => {
    const name = this.CONSUME(T.Ident);
    this.CONSUME(T.Colon);
    const ty = this.CONSUME(T.TypeName);
    let def: Expr | undefined;
    this.OPTION(() => { this.CONSUME(T.Eq); def = this.SUBRULE(this.expr); });
    return { name: name.image, type: ty.image as ScalarTypeName, default: def, span: join(this.sp(name), this.sp(ty)) };
  });

  moduleItem = this.RULE('moduleItem', (): ModuleItem => this.OR([
    { ALT: () => { const f = this.SUBRULE(this.fnDecl); return { kind: 'fn' as const, fn: f, span: f.span }; } },
    { ALT: () => this.SUBRULE(this.moduleIf) },
    {
      ALT: () => {
        let frozenTok: IToken | undefined;
        this.OPTION(() => { frozenTok = this.CONSUME(T.Frozen); });
        return this.OR2([
          {
            ALT: () => {
              const k = this.CONSUME(T.Param);
              const name = this.CONSUME(T.Ident);
              this.CONSUME(T.Colon);
              const type = this.SUBRULE(this.typeExpr);
              let init: Expr | undefined;
              this.OPTION2(() => { this.CONSUME(T.Eq); init = this.SUBRULE(this.expr); });
              const start = this.sp(frozenTok ?? k);
              return { kind: 'param' as const, frozen: frozenTok !== undefined, name: name.image, nameSpan: this.sp(name), type, init, span: join(start, init?.span ?? type?.span) };
            },
          },
          {
            ALT: () => {
              const name = this.CONSUME2(T.Ident);
              this.CONSUME2(T.Eq);
              const value = this.SUBRULE2(this.expr);
              const start = this.sp(frozenTok ?? name);
              return { kind: 'field' as const, frozen: frozenTok !== undefined, name: name.image, nameSpan: this.sp(name), value, span: join(start, value?.span) };
            },
          },
        ]);
      },
    },
  ]));

  moduleIf = this.RULE('moduleIf', (): ModuleItem => {
    const k = this.CONSUME(T.If);
    const cond = this.SUBRULE(this.expr);
    this.CONSUME(T.LBrace);
    const then: ModuleItem[] = [];
    this.MANY(() => then.push(this.SUBRULE(this.moduleItem)));
    this.CONSUME(T.RBrace);
    let otherwise: ModuleItem[] | undefined;
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        { ALT: () => { otherwise = [this.SUBRULE(this.moduleIf)]; } },
        {
          ALT: () => {
            otherwise = [];
            this.CONSUME2(T.LBrace);
            this.MANY2(() => otherwise!.push(this.SUBRULE2(this.moduleItem)));
            this.CONSUME2(T.RBrace);
          },
        },
      ]);
    });
    return { kind: 'if', cond, then, otherwise, span: join(this.sp(k), cond?.span) };
  });

  fnDecl = this.RULE('fnDecl', (): FnDecl => {
    const k = this.CONSUME(T.Fn);
    const name = this.CONSUME(T.Ident);
    const params: FnParam[] = [];
    this.CONSUME(T.LParen);
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        const p = this.CONSUME2(T.Ident);
        this.CONSUME(T.Colon);
        const type = this.SUBRULE(this.typeExpr);
        params.push({ name: p.image, type, span: join(this.sp(p), type?.span) });
      },
    });
    this.CONSUME(T.RParen);
    let ret: TypeExpr | undefined;
    this.OPTION(() => { this.CONSUME(T.Arrow); ret = this.SUBRULE2(this.typeExpr); });
    const where: Constraint[] = [];
    this.OPTION2(() => {
      this.CONSUME(T.Where);
      this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => where.push(this.SUBRULE(this.constraint)) });
    });
    const body = this.SUBRULE(this.block);
    return { name: name.image, nameSpan: this.sp(name), params, ret, where, body: body.stmts, span: join(this.sp(k), this.sp(name)) };
  });

  constraint = this.RULE('constraint', (): Constraint => this.OR([
    {
      GATE: () => this.LA(2).tokenType === T.Colon,
      ALT: () => {
        const n = this.CONSUME(T.Ident);
        this.CONSUME(T.Colon);
        const b = this.CONSUME2(T.Ident);
        return { kind: 'bucket' as const, name: n.image, span: join(this.sp(n), this.sp(b)), word: b.image };
      },
    },
    {
      GATE: () => this.LA(2).tokenType === T.In,
      ALT: () => {
        const n = this.CONSUME3(T.Ident);
        this.CONSUME(T.In);
        const values = this.SUBRULE2(this.expr);
        return { kind: 'in' as const, name: n.image, nameSpan: this.sp(n), values, span: join(this.sp(n), values?.span ?? this.sp(n)) };
      },
    },
    { ALT: () => { const e = this.SUBRULE(this.expr); return { kind: 'expr' as const, expr: e, span: e?.span }; } },
  ]));

  typeExpr = this.RULE('typeExpr', (): TypeExpr => this.OR([
    {
      ALT: () => {
        const t = this.CONSUME(T.TypeName);
        const dims: Expr[] = [];
        let end: IToken | undefined;
        let tensor = false;
        this.OPTION(() => {
          tensor = true;
          this.CONSUME(T.LBracket);
          this.MANY_SEP({ SEP: T.Comma, DEF: () => dims.push(this.SUBRULE(this.expr)) });
          end = this.CONSUME(T.RBracket);
        });
        const span = end ? join(this.sp(t), this.sp(end)) : this.sp(t);
        return tensor ? { kind: 'tensor' as const, dtype: t.image, dims, span } : { kind: 'scalar' as const, name: t.image as ScalarTypeName, span };
      },
    },
    {
      ALT: () => {
        const l = this.CONSUME(T.LParen);
        const items: TypeExpr[] = [];
        this.MANY_SEP2({ SEP: T.Comma, DEF: () => items.push(this.SUBRULE(this.typeExpr)) });
        const r = this.CONSUME(T.RParen);
        return { kind: 'tuple' as const, items, span: join(this.sp(l), this.sp(r)) };
      },
    },
  ]));

  block = this.RULE('block', (): { stmts: Stmt[]; end: IToken } => {
    this.CONSUME(T.LBrace);
    const stmts: Stmt[] = [];
    this.MANY(() => stmts.push(this.SUBRULE(this.stmt)));
    const end = this.CONSUME(T.RBrace);
    return { stmts, end };
  });

  stmt = this.RULE('stmt', (): Stmt => this.OR([
    {
      ALT: () => {
        const k = this.CONSUME(T.Let);
        const pattern = this.SUBRULE(this.pattern);
        this.CONSUME(T.Eq);
        const value = this.SUBRULE(this.expr);
        return { kind: 'let' as const, pattern, value, span: join(this.sp(k), value?.span) };
      },
    },
    {
      ALT: () => {
        const k = this.CONSUME(T.Return);
        const value = this.SUBRULE2(this.expr);
        return { kind: 'return' as const, value, span: join(this.sp(k), value?.span) };
      },
    },
    { ALT: () => this.SUBRULE(this.ifStmt) },
  ]));

  ifStmt = this.RULE('ifStmt', (): Stmt => {
    const k = this.CONSUME(T.If);
    const cond = this.SUBRULE(this.expr);
    const then = this.SUBRULE(this.block);
    let otherwise: Stmt[] | undefined;
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        { ALT: () => { otherwise = [this.SUBRULE(this.ifStmt)]; } },
        { ALT: () => { otherwise = this.SUBRULE2(this.block).stmts; } },
      ]);
    });
    return { kind: 'if', cond, then: then.stmts, otherwise, span: join(this.sp(k), cond?.span) };
  });

  pattern = this.RULE('pattern', (): Pattern => this.OR([
    { ALT: () => { const n = this.CONSUME(T.Ident); return { kind: 'name' as const, name: n.image, span: this.sp(n) }; } },
    {
      ALT: () => {
        const l = this.CONSUME(T.LParen);
        const items: Pattern[] = [];
        this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => items.push(this.SUBRULE(this.pattern)) });
        const r = this.CONSUME(T.RParen);
        return { kind: 'tuple' as const, items, span: join(this.sp(l), this.sp(r)) };
      },
    },
  ]));

  expr = this.RULE('expr', (): Expr => this.SUBRULE(this.orExpr));

  orExpr = this.RULE('orExpr', (): Expr => {
    let left = this.SUBRULE(this.andExpr);
    this.MANY(() => {
      this.CONSUME(T.Or);
      const right = this.SUBRULE2(this.andExpr);
      left = { kind: 'binary', op: 'or', left, right, span: join(left?.span, right?.span) };
    });
    return left;
  });

  andExpr = this.RULE('andExpr', (): Expr => {
    let left = this.SUBRULE(this.notExpr);
    this.MANY(() => {
      this.CONSUME(T.And);
      const right = this.SUBRULE2(this.notExpr);
      left = { kind: 'binary', op: 'and', left, right, span: join(left?.span, right?.span) };
    });
    return left;
  });

  notExpr = this.RULE('notExpr', (): Expr => this.OR([
    {
      ALT: () => {
        const k = this.CONSUME(T.Not);
        const arg = this.SUBRULE(this.notExpr);
        return { kind: 'unary' as const, op: 'not' as const, arg, span: join(this.sp(k), arg?.span) };
      },
    },
    { ALT: () => this.SUBRULE(this.cmpExpr) },
  ]));

  cmpExpr = this.RULE('cmpExpr', (): Expr => {
    let left = this.SUBRULE(this.addExpr);
    this.OPTION(() => {
      const op = this.OR([
        { ALT: () => this.CONSUME(T.EqEq) }, { ALT: () => this.CONSUME(T.NotEq) },
        { ALT: () => this.CONSUME(T.LessEq) }, { ALT: () => this.CONSUME(T.GreaterEq) },
        { ALT: () => this.CONSUME(T.Less) }, { ALT: () => this.CONSUME(T.Greater) },
      ]);
      const right = this.SUBRULE2(this.addExpr);
      left = { kind: 'binary', op: binOf(op), left, right, span: join(left?.span, right?.span) };
    });
    return left;
  });

  addExpr = this.RULE('addExpr', (): Expr => {
    let left = this.SUBRULE(this.mulExpr);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      const right = this.SUBRULE2(this.mulExpr);
      left = { kind: 'binary', op: binOf(op), left, right, span: join(left?.span, right?.span) };
    });
    return left;
  });

  mulExpr = this.RULE('mulExpr', (): Expr => {
    let left = this.SUBRULE(this.unaryExpr);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(T.Star) }, { ALT: () => this.CONSUME(T.Slash) }, { ALT: () => this.CONSUME(T.Percent) }]);
      const right = this.SUBRULE2(this.unaryExpr);
      left = { kind: 'binary', op: binOf(op), left, right, span: join(left?.span, right?.span) };
    });
    return left;
  });

  unaryExpr = this.RULE('unaryExpr', (): Expr => this.OR([
    {
      ALT: () => {
        const k = this.CONSUME(T.Minus);
        const arg = this.SUBRULE(this.unaryExpr);
        return { kind: 'unary' as const, op: '-' as const, arg, span: join(this.sp(k), arg?.span) };
      },
    },
    { ALT: () => this.SUBRULE(this.postfixExpr) },
  ]));

  postfixExpr = this.RULE('postfixExpr', (): Expr => {
    let e = this.SUBRULE(this.primary);
    this.MANY(() => this.OR([
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          const args: Arg[] = [];
          this.MANY_SEP({ SEP: T.Comma, DEF: () => args.push(this.SUBRULE(this.arg)) });
          const r = this.CONSUME(T.RParen);
          e = { kind: 'call', callee: e, args, span: join(e?.span, this.sp(r)) };
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          const index = this.SUBRULE(this.expr);
          const r = this.CONSUME(T.RBracket);
          e = { kind: 'index', target: e, index, span: join(e?.span, this.sp(r)) };
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Dot);
          const n = this.OR2([{ ALT: () => this.CONSUME(T.Ident) }, { ALT: () => this.CONSUME(T.Int) }, { ALT: () => this.CONSUME(T.Float) }]);
          // `t.1.0` lexes as t . 1.0: two indices.
          const parts = /^\d+\.\d+$/.test(n?.image ?? '') ? n.image.split('.') : [n?.image ?? ''];
          for (const part of parts) e = { kind: 'member', target: e, name: part, nameSpan: this.sp(n), span: join(e?.span, this.sp(n)) };
        },
      },
    ]));
    return e;
  });

  arg = this.RULE('arg', (): Arg => this.OR([
    {
      GATE: () => this.LA(2).tokenType === T.Eq,
      ALT: () => {
        const n = this.CONSUME(T.Ident);
        this.CONSUME(T.Eq);
        const value = this.SUBRULE(this.expr);
        return { name: n.image, nameSpan: this.sp(n), value, span: join(this.sp(n), value?.span) };
      },
    },
    { ALT: () => { const value = this.SUBRULE2(this.expr); return { name: undefined, nameSpan: undefined, value, span: value?.span }; } },
  ]));

  primary = this.RULE('primary', (): Expr => this.OR([
    { ALT: () => { const t = this.CONSUME(T.Int); return { kind: 'int' as const, value: Number(t.image), span: this.sp(t) }; } },
    { ALT: () => { const t = this.CONSUME(T.Float); return { kind: 'float' as const, value: Number(t.image), span: this.sp(t) }; } },
    { ALT: () => { const t = this.CONSUME(T.True); return { kind: 'bool' as const, value: true, span: this.sp(t) }; } },
    { ALT: () => { const t = this.CONSUME(T.False); return { kind: 'bool' as const, value: false, span: this.sp(t) }; } },
    { ALT: () => { const t = this.CONSUME(T.StringLit); return { kind: 'string' as const, value: t.image.slice(1, -1), span: this.sp(t) }; } },
    { ALT: () => { const t = this.CONSUME(T.Ident); return { kind: 'name' as const, name: t.image, span: this.sp(t) }; } },
    {
      ALT: () => {
        const l = this.CONSUME(T.LParen);
        const items: Expr[] = [];
        let trailingComma = false;
        items.push(this.SUBRULE(this.expr));
        this.MANY(() => {
          this.CONSUME(T.Comma);
          trailingComma = true;
          this.OPTION(() => { items.push(this.SUBRULE2(this.expr)); trailingComma = false; });
        });
        const r = this.CONSUME(T.RParen);
        if (items.length === 1 && !trailingComma) return items[0];
        return { kind: 'tuple' as const, items, span: join(this.sp(l), this.sp(r)) };
      },
    },
    { ALT: () => this.SUBRULE(this.listExpr) },
  ]));

  listExpr = this.RULE('listExpr', (): Expr => {
    const l = this.CONSUME(T.LBracket);
    return this.OR([
      {
        ALT: () => {
          this.CONSUME(T.For);
          const v = this.CONSUME(T.Ident);
          this.CONSUME(T.In);
          const from = this.SUBRULE(this.expr);
          let to: Expr | undefined;
          this.OPTION(() => { this.CONSUME(T.DotDot); to = this.SUBRULE2(this.expr); });
          this.CONSUME(T.Colon);
          const body = this.SUBRULE3(this.expr);
          const r = this.CONSUME(T.RBracket);
          return { kind: 'comp' as const, variable: v.image, varSpan: this.sp(v), from, to, body, span: join(this.sp(l), this.sp(r)) };
        },
      },
      {
        ALT: () => {
          const items: Expr[] = [];
          this.MANY_SEP({ SEP: T.Comma, DEF: () => items.push(this.SUBRULE4(this.expr)) });
          const r = this.CONSUME2(T.RBracket);
          return { kind: 'list' as const, items, span: join(this.sp(l), this.sp(r)) };
        },
      },
    ]);
  });
}
