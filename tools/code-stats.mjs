// Size of the code at one git revision, read from git objects (no checkout,
// so it works on any commit while others edit the tree):
//   - lines per top-level folder of source (.ts, .mjs, .cc, .h, .fd), and of
//     tests (test/, by the folder under it) separately;
//   - the longest named functions of the TypeScript/JavaScript sources outside
//     test/ (function declarations, methods, and arrows bound to a name), found
//     by a brace-matching scanner that skips comments, strings, template
//     literals and regular expressions; a nested function counts on its own
//     and inside its parent;
//   - with --op NAME: the source files that mention the op (the word NAME,
//     quoted or as part of a name such as Op<'NAME'>, NAME_OPS, NAME.kernel),
//     which is what adding that op touched.
// Usage: node tools/code-stats.mjs [REV] [--top N] [--op NAME]
import { execFileSync } from 'node:child_process';

const SOURCE = /\.(ts|mjs|cc|h|fd)$/;
const SCANNED = /\.(ts|mjs)$/;

/** path → text of every tracked file at rev matching `want`, from one `git cat-file --batch`. */
export function filesAt(rev, want) {
  const paths = execFileSync('git', ['ls-tree', '-r', '--name-only', rev], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n').filter((p) => p && want.test(p));
  const out = execFileSync('git', ['cat-file', '--batch'], { input: paths.map((p) => `${rev}:${p}`).join('\n') + '\n', maxBuffer: 1 << 30 });
  const files = new Map();
  let at = 0;
  for (const path of paths) {
    const nl = out.indexOf(10, at);
    const header = out.subarray(at, nl).toString('utf8');
    const m = header.match(/^[0-9a-f]+ blob (\d+)$/);
    if (!m) throw new Error(`git cat-file: unexpected header '${header}' for ${path}`);
    const size = Number(m[1]);
    files.set(path, out.subarray(nl + 1, nl + 1 + size).toString('utf8'));
    at = nl + 1 + size + 1;
  }
  return files;
}

export const lineCount = (text) => (text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0));

/** Keywords a regular expression may follow (after them `/` starts a literal, not a division). */
const BEFORE_REGEX_WORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/**
 * The text with comments, string and template-literal text and regular
 * expressions blanked (same length, newlines kept), so braces and keywords
 * left are code. Template substitutions ${...} stay code.
 */
export function codeOnly(src) {
  const out = src.split('');
  const blank = (from, to) => { for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' '; };
  const templateDepth = []; // brace depth at which each open template's ${ began
  let depth = 0, i = 0, last = ''; // last significant token's character (or word) for the regex test
  const n = src.length;
  const template = (start) => {
    // From just after ` (or the } closing a substitution) to the closing ` or the next ${.
    let k = start;
    while (k < n && src[k] !== '`') {
      if (src[k] === '\\') { k += 2; continue; }
      if (src[k] === '$' && src[k + 1] === '{') { blank(start, k); templateDepth.push(depth); depth++; return k + 2; }
      k++;
    }
    blank(start, k);
    last = '`';
    return k + 1;
  };
  while (i < n) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') { const e = src.indexOf('\n', i); const end = e < 0 ? n : e; blank(i, end); i = end; continue; }
    if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); const end = e < 0 ? n : e + 2; blank(i, end); i = end; continue; }
    if (c === '"' || c === "'") {
      let k = i + 1;
      while (k < n && src[k] !== c && src[k] !== '\n') k += src[k] === '\\' ? 2 : 1;
      blank(i + 1, k); i = k + 1; last = c; continue;
    }
    if (c === '`') { i = template(i + 1); continue; }
    if (c === '/') {
      const regexPossible = last === '' || /[(,=:[!&|?{};+\-*%<>~^]/.test(last) || BEFORE_REGEX_WORDS.has(last);
      if (regexPossible) {
        let k = i + 1, inClass = false;
        while (k < n && src[k] !== '\n') {
          if (src[k] === '\\') { k += 2; continue; }
          if (src[k] === '[') inClass = true;
          else if (src[k] === ']') inClass = false;
          else if (src[k] === '/' && !inClass) break;
          k++;
        }
        blank(i + 1, k); i = k + 1;
        while (i < n && /[a-z]/.test(src[i])) i++;
        last = '/re'; continue;
      }
    }
    if (c === '{') depth++;
    if (c === '}') {
      if (templateDepth.length && templateDepth[templateDepth.length - 1] === depth - 1) {
        templateDepth.pop(); depth--; i = template(i + 1); continue;
      }
      depth--;
    }
    if (/[A-Za-z_$0-9]/.test(c)) {
      let k = i;
      while (k < n && /[\w$]/.test(src[k])) k++;
      last = src.slice(i, k); i = k; continue;
    }
    if (!/\s/.test(c)) last = c;
    i++;
  }
  return out.join('');
}

const OPEN = { '(': ')', '[': ']', '{': '}' };

/** Index of the bracket closing the one at `at` in code-only text, or -1. */
function closing(code, at) {
  const stack = [];
  for (let k = at; k < code.length; k++) {
    const c = code[k];
    if (OPEN[c]) stack.push(OPEN[c]);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return k;
    }
  }
  return -1;
}

const skipSpace = (code, k) => { while (k < code.length && /\s/.test(code[k])) k++; return k; };

/**
 * From just after a parameter list's `)`: the index where the body starts
 * (a `{`, or for arrows the expression), skipping a return type annotation;
 * -1 when what follows is not a function body. `arrow`: an arrow must come.
 */
function bodyStart(code, k, arrow) {
  k = skipSpace(code, k);
  if (code[k] === ':') {
    // A return type: brackets nest; `{` right after `:`, `|`, `&`, `<`, `,`, `(` or `=>` opens a type literal.
    let prev = ':';
    k++;
    while (k < code.length) {
      k = skipSpace(code, k);
      const c = code[k];
      if (c === '=' && code[k + 1] === '>') { if (arrow) break; k += 2; prev = '=>'; continue; }
      if (c === '{' && !arrow && !/^(:|\||&|<|,|\(|=>)$/.test(prev)) break;
      if (c === '(' || c === '[' || c === '{' || c === '<') {
        const e = c === '<' ? angleClose(code, k) : closing(code, k);
        if (e < 0) return -1;
        k = e + 1; prev = code[e]; continue;
      }
      if (c === ';' || c === '=' || c === ',' || c === ')' || c === undefined) return -1;
      prev = c; k++;
    }
  }
  if (arrow) {
    if (!(code[k] === '=' && code[k + 1] === '>')) return -1;
    return skipSpace(code, k + 2);
  }
  return code[k] === '{' ? k : -1;
}

/** The `>` closing a type argument list at `at` (`=>` inside does not close it). */
function angleClose(code, at) {
  let d = 0;
  for (let k = at; k < code.length; k++) {
    if (code[k] === '=' && code[k + 1] === '>') { k++; continue; }
    if (code[k] === '<') d++;
    else if (code[k] === '>' && --d === 0) return k;
    else if (code[k] === ';' || code[k] === '{' && d === 0) return -1;
  }
  return -1;
}

/** Where a body starting at `s` ends: its matching bracket, else the end of the expression's line. */
function bodyEnd(code, s) {
  if (OPEN[code[s]]) return closing(code, s);
  const e = code.indexOf('\n', s);
  return e < 0 ? code.length - 1 : e;
}

const NOT_METHODS = new Set(['if', 'for', 'while', 'switch', 'catch', 'function', 'return', 'with', 'constructor_', 'else', 'do', 'typeof', 'new', 'await', 'super', 'import']);

/** Named functions in one file: { name, start, end } (1-based lines, inclusive). */
export function functionsIn(src) {
  const code = codeOnly(src);
  const lineAt = [];
  for (let k = 0, line = 1; k <= code.length; k++) { lineAt.push(line); if (code[k] === '\n') line++; }
  const found = new Map(); // start index of the params → record (one per function)
  const add = (name, paramsAt, arrow) => {
    if (found.has(paramsAt)) return;
    const close = closing(code, paramsAt);
    if (close < 0) return;
    const s = bodyStart(code, close + 1, arrow);
    if (s < 0) return;
    const e = bodyEnd(code, s);
    if (e < 0) return;
    found.set(paramsAt, { name, start: lineAt[paramsAt], end: lineAt[e] });
  };
  const NAME = '[A-Za-z_$][\\w$]*';
  const TYPE_PARAMS = '(?:<[^(){};]*>)?';
  // function name<T>(  — declarations and expressions
  for (const m of code.matchAll(new RegExp(`\\bfunction\\b\\s*\\*?\\s*(${NAME})\\s*${TYPE_PARAMS}\\s*\\(`, 'g'))) add(m[1], m.index + m[0].length - 1, false);
  // name = (...) =>, name: (...) =>, name = async <T>(...) =>
  for (const m of code.matchAll(new RegExp(`(?:^|[^\\w$.])(${NAME})\\s*(?::\\s*[^=;(){}]*?)?\\s*[=:]\\s*(?:async\\s*)?${TYPE_PARAMS}\\s*\\(`, 'g'))) {
    if (NOT_METHODS.has(m[1])) continue;
    add(m[1], m.index + m[0].length - 1, true);
  }
  // name = x =>  (one bare parameter)
  for (const m of code.matchAll(new RegExp(`(?:^|[^\\w$.])(${NAME})\\s*[=:]\\s*(?:async\\s+)?${NAME}\\s*=>\\s*`, 'g'))) {
    const s = m.index + m[0].length;
    const e = bodyEnd(code, s);
    if (e >= 0 && !found.has(s)) found.set(s, { name: m[1], start: lineAt[m.index + 1], end: lineAt[e] });
  }
  // Methods: at a line's start, modifiers, name<T>(...) { — in classes and object literals.
  for (const m of code.matchAll(new RegExp(`^[ \\t]*(?:(?:public|private|protected|static|async|get|set|override|readonly)\\s+)*\\*?(${NAME})\\s*${TYPE_PARAMS}\\s*\\(`, 'gm'))) {
    if (NOT_METHODS.has(m[1])) continue;
    add(m[1], m.index + m[0].length - 1, false);
  }
  return [...found.values()].map((f) => ({ ...f, lines: f.end - f.start + 1 }));
}

/** Lines per top-level folder: source outside test/, and test/ by its sub-folder. */
export function folderLines(files) {
  const source = new Map(), tests = new Map();
  for (const [path, text] of files) {
    const parts = path.split('/');
    const isTest = parts[0] === 'test';
    const key = isTest ? (parts.length > 2 ? parts[1] : '.') : parts.length > 1 ? parts[0] : '.';
    const m = isTest ? tests : source;
    const row = m.get(key) ?? { files: 0, lines: 0 };
    row.files++; row.lines += lineCount(text);
    m.set(key, row);
  }
  return { source, tests };
}

/** The files mentioning op `name` as a word ('name', name.kernel, Op<'name'>) or as a word part in capitals (NAME_OPS). */
export function opFiles(files, name) {
  const word = new RegExp(`(^|[^A-Za-z0-9])(${name}|${name.toUpperCase()})([^A-Za-z0-9]|$)`, 'm');
  return [...files].filter(([, text]) => word.test(text)).map(([p]) => p).sort();
}

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function main(argv) {
  let rev = 'HEAD', top = 15, op;
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--top') top = Number(argv[++k]);
    else if (argv[k] === '--op') op = argv[++k];
    else if (argv[k] === '--help' || argv[k] === '-h') { console.log('usage: node tools/code-stats.mjs [REV] [--top N] [--op NAME]'); return 0; }
    else if (argv[k].startsWith('-')) { console.error(`code-stats: unknown flag ${argv[k]} (flags: --top N, --op NAME)`); return 2; }
    else rev = argv[k];
  }
  if (!Number.isInteger(top) || top < 1) { console.error('code-stats: --top takes a positive integer'); return 2; }
  let sha;
  try {
    sha = execFileSync('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    console.error(`code-stats: '${rev}' is not a commit in this repository`);
    return 1;
  }
  const files = filesAt(sha, SOURCE);
  const { source, tests } = folderLines(files);
  const sum = (m) => [...m.values()].reduce((a, r) => ({ files: a.files + r.files, lines: a.lines + r.lines }), { files: 0, lines: 0 });
  const rowsOf = (m) => [...m].sort((a, b) => b[1].lines - a[1].lines).map(([k, r]) => [k, r.files, r.lines]);
  const s = sum(source), t = sum(tests);
  console.log(`# ${rev} (${sha.slice(0, 7)}): .ts .mjs .cc .h .fd files\n`);
  console.log('source (outside test/)\n' + table([...rowsOf(source), ['total', s.files, s.lines]], ['folder', 'files', 'lines']) + '\n');
  console.log('tests (test/<folder>)\n' + table([...rowsOf(tests), ['total', t.files, t.lines]], ['folder', 'files', 'lines']) + '\n');
  const fns = [];
  for (const [path, text] of files) {
    if (!SCANNED.test(path) || path.startsWith('test/')) continue;
    for (const f of functionsIn(text)) fns.push({ ...f, path });
  }
  fns.sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path) || a.start - b.start);
  console.log(`longest ${top} functions (outside test/)\n` + table(fns.slice(0, top).map((f) => [f.name, `${f.path}:${f.start}`, f.lines]), ['function', 'file:line', 'lines']));
  if (op) {
    const mentioned = opFiles(files, op);
    const groups = [
      ['the compiler and runtimes (compiler/, runtime*/, native/)', (p) => /^(compiler|runtime[\w-]*|native)\//.test(p)],
      ['users (models, CLI, API, bench, configs, ...)', (p) => !/^(compiler|runtime[\w-]*|native|test)\//.test(p)],
      ['tests', (p) => p.startsWith('test/')],
    ];
    console.log(`\nfiles mentioning '${op}'`);
    for (const [title, inGroup] of groups) {
      const list = mentioned.filter(inGroup);
      console.log(`${title}: ${list.length}\n` + list.map((p) => `  ${p}`).join('\n'));
    }
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
