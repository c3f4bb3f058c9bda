// WGSL rendering for the WebGPU runtime: one compute shader per kernel,
// overriding the C-family base only where WGSL differs (types, literals,
// declarations, select, casts, helpers for what WGSL lacks).
//
// Binding convention (runtime-webgpu/executable.ts):
//   @group(0) @binding(i)  var<storage, read|read_write> Bi   the kernel's buffers in order
//   @group(0) @binding(n)  var<uniform> args: Args            { grid: u32, a0: i32, ... }
// A launch's grid may be dispatched as 2-D (x·y ≥ grid, each under the
// per-dimension limit), so the workgroup index is
//   wid.x + wid.y * num_workgroups.x, guarded by `>= args.grid`.
// i64 index arithmetic is i32 here: a binding holds at most 2^31 bytes.
// bool buffers are u32 words (the runtime widens them on upload/readback).
import { Expr, Kernel, Scalar, Stmt, UnaryOp, BinaryOp, hasBarrier, typeOf } from '../kernel/ir.js';
import { CFamilyRenderer, Fmt1, Fmt2, f32Literal } from './cfamily.js';
import { forEachStmt } from '../kernel/walk.js';

// Identifiers the WGSL spec reserves or that the shader itself declares.
const RESERVED = new Set([
  'alias', 'array', 'atomic', 'bitcast', 'bool', 'break', 'case', 'const', 'continue', 'continuing', 'default', 'diagnostic',
  'discard', 'else', 'enable', 'f16', 'f32', 'false', 'fn', 'for', 'i32', 'if', 'let', 'loop', 'override', 'requires',
  'return', 'struct', 'switch', 'true', 'u32', 'var', 'vec2', 'vec3', 'vec4', 'while', 'ptr', 'sampler', 'texture',
  'mat2x2', 'mat3x3', 'mat4x4', 'NULL', 'Self', 'abstract', 'active', 'alignas', 'alignof', 'as', 'asm', 'async',
  'attribute', 'auto', 'await', 'become', 'cast', 'catch', 'class', 'co_await', 'co_return', 'co_yield', 'coherent',
  'column_major', 'common', 'compile', 'concept', 'const_cast', 'consteval', 'constexpr', 'constinit', 'crate', 'debugger',
  'decltype', 'delete', 'demote', 'do', 'dynamic_cast', 'enum', 'explicit', 'export', 'extends', 'extern', 'external',
  'fallthrough', 'filter', 'final', 'finally', 'friend', 'from', 'fxgroup', 'get', 'goto', 'groupshared', 'highp', 'impl',
  'implements', 'import', 'inline', 'instanceof', 'interface', 'layout', 'lowp', 'macro', 'match', 'mediump', 'meta',
  'mod', 'module', 'move', 'mut', 'mutable', 'namespace', 'new', 'nil', 'noexcept', 'noinline', 'nointerpolation',
  'noperspective', 'null', 'nullptr', 'of', 'operator', 'package', 'packoffset', 'partition', 'pass', 'patch',
  'pixelfragment', 'precise', 'precision', 'premerge', 'priv', 'protected', 'pub', 'public', 'readonly', 'ref',
  'regardless', 'register', 'reinterpret_cast', 'require', 'resource', 'restrict', 'self', 'set', 'shared', 'sizeof',
  'smooth', 'snorm', 'static', 'static_assert', 'static_cast', 'std', 'subroutine', 'super', 'target', 'template',
  'this', 'thread_local', 'throw', 'trait', 'try', 'type', 'typedef', 'typeid', 'typename', 'typeof', 'union', 'unless',
  'unorm', 'unsafe', 'unsized', 'use', 'using', 'varying', 'virtual', 'volatile', 'wgsl', 'where', 'with', 'writeonly',
  'yield', 'main', 'args', 'Args', 'gid', 'lid', 'wid', 'nwg', 'lidx', 'wgu',
]);

/** A name from the IR as a WGSL identifier (kernel-internal names never clash with ours). */
export function ident(name: string): string {
  return RESERVED.has(name) || name.startsWith('__') || /^B\d+$/.test(name) ? `${name}_` : name;
}

export class WgslRenderer extends CFamilyRenderer {
  readonly types = { f32: 'f32', i32: 'i32', i64: 'i32', u32: 'u32', bool: 'bool' } as const;
  readonly bufTypes = { f32: 'f32', i32: 'i32', bool: 'u32' } as const;
  readonly unrollPragma = '';
  protected readonly popcount = (a: string): string => `countOneBits(${a})`;
  protected readonly ctz = (a: string): string => `countTrailingZeros(${a})`;
  private bufDtypes: readonly ('f32' | 'i32' | 'bool')[] = [];
  /** Register arrays whose every index is a constant after unrolling: one scalar per element. */
  private scalarRegs = new Set<string>();
  /** Names declared in each enclosing statement list (innermost last). */
  private scopes: Set<string>[] = [];
  /** Names assigned after their declaration (a `set`, or a second `let`): these need `var`. */
  private mutable = new Set<string>();
  /** The kernel's workgroup arrays, and whether an expression being rendered reads them with workgroupUniformLoad. */
  private localNames = new Set<string>();
  private uniformLoads = false;

  constructor() {
    super();
    // WGSL has no isnan, no NaN/Inf literal (a const-expression may not yield one)
    // and pow is undefined for a negative base; C's powf is not.
    Object.assign(this.helperDefs, {
      f32_isnan: 'fn f32_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
      f32_bits: 'fn f32_bits(b: u32) -> f32 { var v = b; return bitcast<f32>(v); }',
      f32_pow: [
        'fn f32_pow(a: f32, b: f32) -> f32 {',
        '  if (b == 0.0) { return 1.0; }',
        '  if (a >= 0.0 || b != trunc(b)) { return pow(a, b); }',
        '  let r = pow(-a, b);',
        '  return select(r, -r, (i32(b) & 1) != 0);',
        '}',
      ].join('\n'),
      f32_max: 'fn f32_max(a: f32, b: f32) -> f32 { if (f32_isnan(a)) { return b; } if (f32_isnan(b)) { return a; } return max(a, b); }',
      f32_min: 'fn f32_min(a: f32, b: f32) -> f32 { if (f32_isnan(a)) { return b; } if (f32_isnan(b)) { return a; } return min(a, b); }',
    });
    const u: Partial<Record<UnaryOp, Fmt1>> = {
      neg: (a) => `(-${a.startsWith('-') ? ` ${a}` : a})`,
      exp: (a) => `exp(${a})`, log: (a) => `log(${a})`, sqrt: (a) => `sqrt(${a})`, abs: (a) => `abs(${a})`,
      tanh: (a) => `tanh(${a})`, floor: (a) => `floor(${a})`, ceil: (a) => `ceil(${a})`, sin: (a) => `sin(${a})`, cos: (a) => `cos(${a})`,
      isnan: (a) => this.helper('f32_isnan', a),
    };
    Object.assign(this.unary, u);
    const isInt = (t: Scalar): boolean => t === 'i32' || t === 'i64' || t === 'u32';
    const b: Partial<Record<BinaryOp, Fmt2>> = {
      // WGSL's f32 % is a - b * trunc(a / b): C's fmodf.
      mod: (x, y) => `(${x} % ${y})`,
      // fmaxf/fminf: a NaN operand loses (WGSL leaves it unspecified).
      max: (x, y, t) => (isInt(t) ? `max(${x}, ${y})` : this.nanAware('f32_max', x, y)),
      min: (x, y, t) => (isInt(t) ? `min(${x}, ${y})` : this.nanAware('f32_min', x, y)),
      pow: (x, y) => this.helper('f32_pow', `${x}, ${y}`),
    };
    Object.assign(this.binary, b);
  }

  private nanAware(name: 'f32_max' | 'f32_min', x: string, y: string): string {
    this.used.add('f32_isnan');
    return this.helper(name, `${x}, ${y}`);
  }

  floatConst(v: number): string {
    if (Number.isNaN(v)) return this.helper('f32_bits', '0x7fc00000u');
    if (!Number.isFinite(v)) return this.helper('f32_bits', v > 0 ? '0x7f800000u' : '0xff800000u');
    return f32Literal(v);
  }

  override constant(t: Scalar, v: number): string {
    if (t === 'bool') return v ? 'true' : 'false';
    if (t === 'i64' && (v > 2147483647 || v < -2147483648)) throw new RangeError(`WGSL: index constant ${v} does not fit i32`);
    if (t === 'i32' || t === 'i64') return v < 0 ? `(${v})` : String(v);
    return super.constant(t, v);
  }

  argRef(i: number): string { return `args.a${i}`; }
  protected barrier(ind: string): string { return `${ind}workgroupBarrier();\n`; }
  protected override arrayRef(arr: string, i: Expr): string {
    if (this.scalarRegs.has(arr) && i.k === 'const') return `${ident(arr)}_${i.v}`;
    return `${ident(arr)}[${this.expr(i)}]`;
  }

  override expr(e: Expr): string {
    // a * b + c with one rounding: WGSL's fma (C's fmaf).
    if ((e as { k: string }).k === 'fma') {
      const [a, b, c] = ['a', 'b', 'c'].map((f) => this.expr((e as unknown as Record<string, Expr>)[f]));
      return `fma(${a}, ${b}, ${c})`;
    }
    switch (e.k) {
      case 'var': return ident(e.name);
      case 'load': {
        const ref = `B${e.buf}[${this.expr(e.idx)}]`;
        return this.bufDtypes[e.buf] === 'bool' ? `(${ref} != 0u)` : ref;
      }
      case 'lload':
        if (this.uniformLoads && this.localNames.has(e.arr)) return `workgroupUniformLoad(&${ident(e.arr)}[${this.expr(e.idx)}])`;
        return super.expr(e);
      case 'sel': return `select(${this.expr(e.b)}, ${this.expr(e.a)}, ${this.expr(e.c)})`;
      case 'cast': {
        const from = typeOf(e.a);
        if (e.t === 'bool') return from === 'f32' ? `(${this.expr(e.a)} != 0.0)` : `(${this.expr(e.a)} != 0)`;
        return `${this.types[e.t]}(${this.expr(e.a)})`;
      }
      default: return super.expr(e);
    }
  }

  // A schedule may declare a let again after a barrier (no scalar lives
  // across one; the C renderer's thread loops give each run its own scope).
  // WGSL has one scope there, so a repeated declaration becomes an assignment.
  override stmts(ss: readonly Stmt[], ind: string): string {
    this.scopes.push(new Set());
    try {
      return super.stmts(ss, ind);
    } finally {
      this.scopes.pop();
    }
  }

  override stmt(s: Stmt, ind: string): string {
    switch (s.k) {
      case 'let': {
        const scope = this.scopes[this.scopes.length - 1];
        if (scope?.has(s.name)) return `${ind}${ident(s.name)} = ${this.expr(s.v)};\n`;
        scope?.add(s.name);
        // A value never assigned again is a WGSL `let`: an SSA value, not function memory.
        const kw = this.mutable.has(s.name) ? 'var' : 'let';
        return `${ind}${kw} ${ident(s.name)}: ${this.types[s.t]} = ${this.expr(s.v)};\n`;
      }
      case 'set': return `${ind}${ident(s.name)} = ${this.expr(s.v)};\n`;
      case 'store': {
        const v = this.expr(s.v);
        return `${ind}B${s.buf}[${this.expr(s.idx)}] = ${this.bufDtypes[s.buf] === 'bool' ? `select(0u, 1u, ${v})` : v};\n`;
      }
      case 'if': {
        // An unrolled iteration: a plain block scopes its lets.
        if (s.c.k === 'const' && s.c.t === 'bool' && s.c.v === 1 && !s.else) return `${ind}{\n${this.stmts(s.then, ind + '  ')}${ind}}\n`;
        if (!hasBarrier([s])) return super.stmt(s, ind);
        // An if holding a barrier may test workgroup memory (the IR's uniform
        // rule: written before a barrier, the same for every thread); WGSL's
        // uniformity analysis wants such reads through workgroupUniformLoad.
        this.uniformLoads = true;
        let c: string;
        try { c = this.expr(s.c); } finally { this.uniformLoads = false; }
        const els = s.else && s.else.length ? ` else {\n${this.stmts(s.else, ind + '  ')}${ind}}` : '';
        return `${ind}if (${c}) {\n${this.stmts(s.then, ind + '  ')}${ind}}${els}\n`;
      }
      case 'barrier': return s.storage ? `${ind}storageBarrier();\n${ind}workgroupBarrier();\n` : super.stmt(s, ind);
      case 'for': {
        const n = ident(s.v);
        return `${ind}for (var ${n}: i32 = ${this.expr(s.from)}; ${n} < ${this.expr(s.to)}; ${n}++) {\n${this.stmts(s.body, ind + '  ')}${ind}}\n`;
      }
      default: return super.stmt(s, ind);
    }
  }

  prelude(): string { return '// Generated by fusedet (compiler/render/wgsl.ts). Do not edit.\n'; }

  kernel(k: Kernel): string {
    this.bufDtypes = k.bufs.map((b) => b.dtype);
    this.localNames = new Set(k.locals.map((a) => a.name));
    const fields = ['grid: u32', ...Array.from({ length: k.nargs }, (_, i) => `a${i}: i32`)];
    const bindings = k.bufs.map((b, i) =>
      `@group(0) @binding(${i}) var<storage, ${b.access === 'r' ? 'read' : 'read_write'}> B${i}: array<${this.bufTypes[b.dtype]}>;\n`).join('');
    const argsBinding = k.bufs.length;
    const locals = k.locals.map((a) => `var<workgroup> ${ident(a.name)}: array<${this.types[a.t]}, ${a.size}>;\n`).join('');
    // Register arrays the IR marks scalar (kernel/unroll.ts) get one variable per element.
    const stmts = k.body, scalar = new Set(k.regs.filter((a) => a.scalar).map((a) => a.name));
    this.mutable = assignedNames(stmts);
    this.scalarRegs = scalar;
    const regs = k.regs.map((a) => (scalar.has(a.name)
      ? `  ${Array.from({ length: a.size }, (_, i) => `var ${ident(a.name)}_${i}: ${this.types[a.t]};`).join(' ')}\n`
      : `  var ${ident(a.name)}: array<${this.types[a.t]}, ${a.size}>;\n`)).join('');
    const body = this.stmts(stmts, '  ');
    return `// kernel ${k.name}\nstruct Args { ${fields.join(', ')} }\n${bindings}` +
      `@group(0) @binding(${argsBinding}) var<uniform> args: Args;\n${locals}\n` +
      `@compute @workgroup_size(${k.workgroupSize})\n` +
      'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {\n' +
      '  let wgu = wid.x + wid.y * nwg.x;\n  if (wgu >= args.grid) { return; }\n  let gid = i32(wgu);\n  let lid = i32(lidx);\n' +
      `${regs}${body}}\n`;
  }
}

function assignedNames(ss: readonly Stmt[]): Set<string> {
  const declared = new Set<string>(), out = new Set<string>();
  forEachStmt(ss, (s) => {
    if (s.k === 'set') out.add(s.name);
    else if (s.k === 'let') { if (declared.has(s.name)) out.add(s.name); declared.add(s.name); }
  });
  return out;
}

/** The WGSL module of one kernel: its helpers, bindings and entry point `main`. */
export function renderWgsl(k: Kernel): string {
  return new WgslRenderer().unit([k]);
}

