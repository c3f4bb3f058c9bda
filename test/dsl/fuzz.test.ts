// Fuzzing the checker and lowering: mutated versions of the real model
// files and of the invalid corpus (token deletions, insertions, swaps,
// number and name changes, truncations). Every input must end in
// diagnostics or, when it checks clean, in a graph or a DiagnosticsError
// from lowering; nothing may throw anything else.
// FUSEDET_FUZZ_COUNT=N sets the number of programs (default 2000);
// FUSEDET_FUZZ_SEED the seed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { checkSource } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { rng } from '../../compiler/tensor.js';
import type { ConcreteType } from '../../compiler/types.js';
import type { Program } from '../../dsl/program.js';

const COUNT = Number(process.env.FUSEDET_FUZZ_COUNT ?? 2000);
const SEED = Number(process.env.FUSEDET_FUZZ_SEED ?? 20240611);

const cache = new Map<string, string>();
function readFile(p: string): string {
  const k = normalize(p);
  let s = cache.get(k);
  if (s === undefined) { s = readFileSync(k, 'utf8'); cache.set(k, s); }
  return s;
}

// Every model source, including those other parts of the project add (losses, training entries).
const models = readdirSync('models').filter((f) => f.endsWith('.fd')).sort().map((f) => `models/${f}`);
const invalid = readdirSync('test/dsl/invalid').filter((f) => f.endsWith('.fd')).map((f) => join('test/dsl/invalid', f));
// Models count more: they exercise the most of the language.
const bases = [...models, ...models, ...models, ...invalid];

const TOKEN = /\/\/[^\n]*|"[^"\n]*"|\d+\.\d+|\d+|[A-Za-z_][A-Za-z0-9_]*|->|\.\.|==|!=|<=|>=|\s+|./g;
const INSERTS = ['(', ')', '[', ']', '{', '}', ',', ':', '=', '..', '.', '-', '*', '/', '%', '+', 'let', 'return', 'if', 'else', 'for', 'in',
  'fn', 'module', 'param', 'frozen', 'import', 'where', 'f32', 'i32', 'bool', 'int', '0', '1', '-1', '3', '1000000', 'x', 'H', '"s"', 'repeat', 'conv2d', 'relu', 'zeros', 'true', 'not'];
const NUMBERS = ['0', '1', '2', '3', '5', '7', '32', '-1', '1000000', '0.5', '4096', '99999999'];

function mutate(text: string, next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const toks = text.match(TOKEN) ?? [];
  const idx: number[] = [];
  toks.forEach((t, i) => { if (!/^\s/.test(t) && !t.startsWith('//')) idx.push(i); });
  if (idx.length === 0) return text;
  const names = [...new Set(toks.filter((t) => /^[A-Za-z_]/.test(t)))];
  // Half the mutants change one number (dims, channels, strides, loop
  // bounds): they mostly still parse, so they reach the checker and lowering.
  if (next() < 0.5) {
    const nums = idx.filter((i) => /^\d/.test(toks[i]));
    if (nums.length) { toks[pick(nums)] = pick(NUMBERS); return toks.join(''); }
  }
  const edits = 1 + Math.floor(next() * 3);
  for (let e = 0; e < edits; e++) {
    const i = pick(idx);
    const kind = next();
    if (kind < 0.2) toks[i] = '';
    else if (kind < 0.4) toks[i] = `${pick(INSERTS)} ${toks[i]}`;
    else if (kind < 0.55) { const j = pick(idx); [toks[i], toks[j]] = [toks[j], toks[i]]; }
    else if (kind < 0.75) { const k = idx.find((x) => x >= i && /^\d/.test(toks[x])); if (k !== undefined) toks[k] = pick(NUMBERS); else toks[i] = pick(NUMBERS); }
    else if (kind < 0.92) { const k = idx.find((x) => x >= i && /^[A-Za-z_]/.test(toks[x])); if (k !== undefined) toks[k] = pick(names); }
    else return toks.slice(0, i).join('');
  }
  return toks.join('');
}

/** Lowering entries for programs that check clean (small sizes: the tiny backbone). */
const ENTRIES: { entry: string; inputs: Record<string, ConcreteType>; args?: Record<string, number | boolean> }[] = [
  { entry: 'FCOS', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, K: 3, C: 8, groups: 4, width: 4 } },
  { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, K: 3, C: 8, groups: 4, width: 4 } },
  { entry: 'TinyResNet', inputs: { x: { dtype: 'f32', shape: [1, 3, 64, 64] } } },
  { entry: 'FPN', inputs: { x3: { dtype: 'f32', shape: [1, 8, 8, 8] }, x4: { dtype: 'f32', shape: [1, 16, 4, 4] }, x5: { dtype: 'f32', shape: [1, 16, 2, 2] } }, args: { c3: 8, c4: 16, c5: 16, C: 8 } },
  { entry: 'ConvGN', inputs: { x: { dtype: 'f32', shape: [2, 8, 5, 7] } }, args: { cin: 8, cout: 8, groups: 4 } },
];

function tryLower(program: Program, file: string): 'graph' | 'diagnostics' | 'skipped' {
  const own = program.files.find((f) => f.path === normalize(file));
  const e = ENTRIES.find((x) => own?.modules.some((m) => m.name === x.entry));
  if (!e) return 'skipped';
  try {
    const g = lower(program, e);
    assert.ok(g.outputs.length > 0, 'a lowered graph has outputs');
    for (const v of g.values) assert.ok(v.type.shape.every((d) => Number.isInteger(d) && d >= 0), `value ${v.id} has a bad shape`);
    return 'graph';
  } catch (err) {
    if (err instanceof Error && (err as { exitCode?: unknown }).exitCode === 1 && (err as { diagnostics?: unknown[] }).diagnostics?.length) return 'diagnostics';
    throw err;
  }
}

test(`checker and lowering never throw on ${COUNT} mutated programs (seed ${SEED})`, () => {
  const next = rng(SEED);
  const tally = { clean: 0, diagnostics: 0, graph: 0, lowerDiagnostics: 0 };
  for (let n = 0; n < COUNT; n++) {
    const file = bases[Math.floor(next() * bases.length)];
    const text = mutate(readFile(file), next);
    let result: ReturnType<typeof checkSource>;
    try {
      result = checkSource(file, text, readFile);
    } catch (err) {
      throw new Error(`program #${n} (a mutant of ${file}) made the checker throw: ${(err as Error).stack}\n--- program ---\n${text}`);
    }
    if (result.diagnostics.length > 0) {
      tally.diagnostics++;
      for (const d of result.diagnostics) assert.ok(d.span.line >= 0 && d.message.length > 0);
      continue;
    }
    tally.clean++;
    if (!result.program) continue;
    let r: string;
    try {
      r = tryLower(result.program, file);
    } catch (err) {
      throw new Error(`program #${n} (a mutant of ${file}) made lowering throw: ${(err as Error).stack}\n--- program ---\n${text}`);
    }
    if (r === 'graph') tally.graph++;
    if (r === 'diagnostics') tally.lowerDiagnostics++;
  }
  // The mutations must reach both outcomes, or the fuzzer tests nothing.
  assert.ok(tally.diagnostics > COUNT / 10, JSON.stringify(tally));
  assert.ok(tally.clean > COUNT / 50, JSON.stringify(tally));
  assert.ok(tally.graph > 0, JSON.stringify(tally));
  console.log(`NOTICE fuzz: ${JSON.stringify(tally)}`);
});

test.run();
