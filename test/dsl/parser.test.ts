// The parser: the tree it builds, spans, precedence, and syntax errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFile } from '../../dsl/parser.js';
import type { Expr, Stmt } from '../../dsl/ast.js';

function body(text: string): Stmt[] {
  const { ast, diagnostics } = parseFile('p.fd', `fn f(x: f32[N]) {\n${text}\n}`);
  assert.is(diagnostics.length, 0, diagnostics.map((d) => d.message).join('\n'));
  return ast.fns[0].body;
}
function show(e: Expr): string {
  switch (e.kind) {
    case 'binary': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'unary': return `(${e.op} ${show(e.arg)})`;
    case 'name': return e.name;
    case 'int': case 'float': return String(e.value);
    case 'call': return `${show(e.callee)}(${e.args.map((a) => (a.name ? `${a.name}=` : '') + show(a.value)).join(', ')})`;
    case 'index': return `${show(e.target)}[${show(e.index)}]`;
    case 'member': return `${show(e.target)}.${e.name}`;
    case 'tuple': return `tuple(${e.items.map(show).join(', ')})`;
    case 'list': return `list(${e.items.map(show).join(', ')})`;
    case 'comp': return `for ${e.variable} in ${show(e.from)}${e.to ? `..${show(e.to)}` : ''}: ${show(e.body)}`;
    default: return e.kind;
  }
}
const ret = (text: string): string => {
  const s = body(`return ${text}`)[0];
  assert.is(s.kind, 'return');
  return show((s as Extract<Stmt, { kind: 'return' }>).value);
};

test('precedence: or < and < not < comparison < + - < * / % < unary < postfix', () => {
  assert.is(ret('a + b * c - -d'), '((a + (b * c)) - (- d))');
  assert.is(ret('not a == b and c < d or e'), '(((not (a == b)) and (c < d)) or e)');
  assert.is(ret('x.w[2](y, k = 3) % 4'), '(x.w[2](y, k=3) % 4)');
});

test('tuples, lists, comprehensions, member indices', () => {
  assert.is(ret('(a,)'), 'tuple(a)');
  assert.is(ret('(a)'), 'a');
  assert.is(ret('[for l in 0..n - 1: h(f[l], l)]'), 'for l in 0..(n - 1): h(f[l], l)');
  assert.is(ret('[for o in outs: o.2]'), 'for o in outs: o.2');
  assert.is(ret('[]'), 'list()');
});

test('spans are 1-based with an exclusive end', () => {
  const s = body('  let yy = relu(x)')[0] as Extract<Stmt, { kind: 'let' }>;
  assert.equal([s.pattern.span.line, s.pattern.span.col, s.pattern.span.endCol], [2, 7, 9]);
  assert.equal([s.value.span.col, s.value.span.endCol], [12, 19]);
});

test('modules: constructor params, frozen params and fields, nested if, where and bucket', () => {
  const { ast, diagnostics } = parseFile('m.fd', `import "a/b.fd"
module M(C: int, flag: bool = true, s: string = "x") {
  frozen param mean: f32[C] = zeros
  frozen stem = Stem(C)
  if flag { a = 1 } else if C > 2 { a = 2 } else { a = 3 }
  fn forward(x: f32[B, C, H, W], g: f32[B, G, 4]) -> (f32[B, C, H, W], int) where H % 32 == 0, G: bucket {
    let (p, (q, r)) = x
    if flag { return (x, 1) }
    return (x, 2)
  }
}`);
  assert.is(diagnostics.length, 0);
  assert.equal(ast.imports.map((i) => i.path), ['a/b.fd']);
  const m = ast.modules[0];
  assert.equal(m.params.map((p) => `${p.name}:${p.type}:${p.default?.kind ?? '-'}`), ['C:int:-', 'flag:bool:bool', 's:string:string']);
  assert.equal(m.items.map((i) => i.kind), ['param', 'field', 'if', 'fn']);
  assert.ok(m.items[0].kind === 'param' && m.items[0].frozen);
  assert.ok(m.items[1].kind === 'field' && m.items[1].frozen);
  const iff = m.items[2];
  assert.ok(iff.kind === 'if' && iff.otherwise?.[0].kind === 'if');
  const fn = m.items[3].kind === 'fn' ? m.items[3].fn : undefined;
  assert.equal(fn!.where.map((w) => w.kind), ['expr', 'bucket']);
  assert.is(fn!.ret!.kind, 'tuple');
});

test('keywords do not swallow identifiers that start with them', () => {
  assert.is(ret('format + index + integer + iffy + into'), '((((format + index) + integer) + iffy) + into)');
});

test('one syntax error per broken declaration; the others still parse', () => {
  const { ast, diagnostics } = parseFile('e.fd', `module A( {
}
module B() {
  fn forward(x: f32[N]) { return x }
}
fn g(x f32[N]) { return x }
fn h(x: f32[N]) { return x }`);
  assert.equal(diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.message}`), [
    "1:11 expected ')' but found '{'",
    "6:8 expected ':' but found 'f32'",
  ]);
  assert.equal([...ast.modules.map((m) => m.name), ...ast.fns.map((f) => f.name)], ['B', 'h']);
});

test('lexer errors and a file that ends early', () => {
  const bad = parseFile('l.fd', 'fn f(x: f32[N]) { return x $ 2 }');
  assert.match(bad.diagnostics[0].message, /unexpected character '\$'/);
  const early = parseFile('t.fd', 'module M() {\n  fn forward(x: f32[N]) {');
  assert.equal([early.diagnostics[0].span.line, early.diagnostics[0].span.col], [2, 26]);
  assert.match(early.diagnostics[0].message, /end of the file/);
});

test.run();
