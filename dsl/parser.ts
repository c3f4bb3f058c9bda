// Parsing a file: lex, run the grammar one declaration run at a time, turn
// syntax errors into diagnostics. Without chevrotain's in-rule recovery
// (whose partial trees are a source of crashes): after an error the parse
// resumes at the next top-level `module`/`fn`/`import` in column 1, so one
// run reports a syntax error per broken declaration.
import { IToken, TokenType, EOF } from 'chevrotain';
import * as T from './lexer.js';
import { Span } from '../compiler/types.js';
import type { FileAst, FnDecl } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import { hintFor } from './syntax-messages.js';
import { FdParser, tokSpan } from './grammar.js';

let shared: FdParser | undefined;
function parser(): FdParser { return (shared ??= new FdParser()); }

const TOP = new Set<TokenType>([T.Module, T.Fn, T.Import]);

/** Parses one file; syntax errors become diagnostics and the broken declarations are skipped. */
export function parseFile(path: string, text: string): { ast: FileAst; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const ast: FileAst = { path, imports: [], modules: [], fns: [] };
  const lexed = T.lexer.tokenize(text);
  for (const e of lexed.errors) {
    const span: Span = { file: path, line: e.line ?? 0, col: e.column ?? 0, endLine: e.line ?? 0, endCol: (e.column ?? 0) + Math.max(1, e.length) };
    const ch = text.substr(e.offset, e.length);
    diagnostics.push({ severity: 'error', message: `unexpected character '${ch}'`, hint: 'comments start with //; strings use double quotes', span });
  }
  // Declarations nested deeper than the parser's stack allows are reported
  // and left out before parsing, so the recursion never overflows and the
  // declarations around them are kept.
  const tokens = cutTooDeep(path, lexed.tokens, diagnostics);
  const p = parser();
  p.file = path;
  let i = 0;
  while (i < tokens.length) {
    p.input = tokens.slice(i);
    p.collected = [];
    // An error aborts the parse; resume at the next declaration that starts a line.
    let overflow = false;
    try { p.fileRule(); } catch (e) { overflow = e instanceof RangeError; }
    if (overflow) {
      // Not expected after cutTooDeep; if the stack still runs out, keep what was parsed before.
      for (const item of p.collected) {
        if ('items' in item) ast.modules.push(item);
        else if ('body' in item) ast.fns.push(item);
        else ast.imports.push(item);
      }
      const at = i;
      diagnostics.push({ severity: 'error', message: 'this expression nests too deeply', hint: `at most ${MAX_DEPTH} levels of nesting`, span: tokSpan(path, tokens[at]) });
      let j = at + 1;
      while (j < tokens.length && !(TOP.has(tokens[j].tokenType) && tokens[j].startColumn === 1)) j++;
      i = j;
      continue;
    }
    for (const item of p.collected) {
      if ('items' in item) ast.modules.push(item);
      else if ('body' in item) ast.fns.push(item);
      else ast.imports.push(item);
    }
    const err = p.errors[0];
    if (!err) break;
    if (!tokens.includes(err.token) && err.token.tokenType !== EOF) break;
    const tok = err.token;
    const span = tok && tok.tokenType !== EOF && !Number.isNaN(tok.startOffset) ? tokSpan(path, tok) : endSpan(path, text);
    diagnostics.push({ severity: 'error', message: err.message, hint: hintFor(err.message), span });
    let j = tokens.indexOf(tok);
    if (j < 0) break;
    j = Math.max(j, i) + 1;
    while (j < tokens.length && !(TOP.has(tokens[j].tokenType) && tokens[j].startColumn === 1)) j++;
    i = j;
  }
  tooDeep(ast, diagnostics);
  return { ast, diagnostics };
}

/** Nesting the checker's recursive walk can take; deeper declarations are reported and dropped. */
const MAX_DEPTH = 200;

/**
 * Syntactic nesting (brackets and prefix operators) the parser takes: about
 * 180 parentheses overflow the recursive-descent parser's stack, so the
 * bound is set well below that.
 */
export const MAX_SYNTAX_DEPTH = 100;

/** Tokens after which a '-' is binary (an operand ends there). */
const OPERAND_END = new Set(['Ident', 'Int', 'Float', 'StringLit', 'True', 'False', 'RParen', 'RBracket', 'RBrace', 'TypeName']);

/**
 * Removes each top-level declaration whose nesting exceeds MAX_SYNTAX_DEPTH,
 * with one error at the token where it does. Brackets count one level each;
 * a run of prefix operators (- not) counts one level per operator.
 */
function cutTooDeep(path: string, tokens: IToken[], diagnostics: Diagnostic[]): IToken[] {
  const startsDecl = (t: IToken): boolean => TOP.has(t.tokenType) && t.startColumn === 1;
  const drop: [number, number][] = [];
  let declStart = 0, depth = 0, prefix = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k], n = t.tokenType.name;
    if (startsDecl(t)) { declStart = k; depth = 0; prefix = 0; }
    if (n === 'LParen' || n === 'LBracket' || n === 'LBrace') depth++;
    else if (n === 'RParen' || n === 'RBracket' || n === 'RBrace') depth = Math.max(0, depth - 1);
    if ((n === 'Minus' && !OPERAND_END.has(tokens[k - 1]?.tokenType.name ?? '')) || n === 'Not') prefix++;
    else if (n !== 'LParen' && n !== 'LBracket') prefix = 0;
    if (depth + prefix <= MAX_SYNTAX_DEPTH) continue;
    diagnostics.push({ severity: 'error', message: `this expression nests too deeply (more than ${MAX_SYNTAX_DEPTH} levels)`, hint: 'split it into steps with let', span: tokSpan(path, t) });
    let end = k + 1;
    while (end < tokens.length && !startsDecl(tokens[end])) end++;
    drop.push([declStart, end]);
    k = end - 1;
    depth = 0; prefix = 0;
  }
  if (drop.length === 0) return tokens;
  return tokens.filter((_, k) => !drop.some(([a, b]) => k >= a && k < b));
}

/** The depth of nested syntax objects under v, up to limit. */
function depthOf(v: unknown, limit: number): number {
  if (limit <= 0 || typeof v !== 'object' || v === null) return 0;
  let d = 0;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'span' || k === 'nameSpan' || k === 'varSpan') continue;
    d = Math.max(d, depthOf(x, limit - 1));
    if (d >= limit - 1) break;
  }
  return d + 1;
}

function tooDeep(ast: FileAst, diagnostics: Diagnostic[]): void {
  // Each level of an expression is about three objects (node, child array, node).
  const limit = 3 * MAX_DEPTH;
  const keep = <T extends { span: Span } | FnDecl>(xs: T[]): T[] => xs.filter((x) => {
    if (depthOf(x, limit + 1) <= limit) return true;
    diagnostics.push({ severity: 'error', message: 'this declaration nests too deeply (a very long or deeply nested expression)', hint: `at most about ${MAX_DEPTH} levels; split it with let`, span: 'nameSpan' in x ? x.nameSpan : x.span });
    return false;
  });
  ast.modules = keep(ast.modules);
  ast.fns = keep(ast.fns);
}

function endSpan(path: string, text: string): Span {
  const lines = text.split('\n');
  const line = lines.length;
  const col = lines[line - 1].length + 1;
  return { file: path, line, col, endLine: line, endCol: col + 1 };
}
