// `fusedet compile` as a user runs it: the summary, and one clear message
// with a non-zero exit for each mistake (malformed source, unknown entry,
// bad --input, inputs that contradict the signature).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'compile', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const tiny = ['models/defcn.fd', '--entry', 'DeFCN', '--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=16', '--arg', 'K=3', '--arg', 'groups=4'];

test('summary of the tiny DeFCN: outputs, parameters, FLOPs, memory, ops by kind', () => {
  const r = run(...tiny, '--input', 'image=f32[2,3,64,64]');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /output cls\.0: f32\[2, 3, 8, 8\]/);
  assert.match(r.out, /output filter\.4: f32\[2, 1, 1, 1\]/);
  assert.match(r.out, /parameters: \d+ \(\d+ trainable, \d+ frozen\)/);
  assert.match(r.out, /FLOPs: [\d.]+ M/);
  assert.match(r.out, /peak live/);
  assert.match(r.out, /max3d 1/);
});

test('--json is machine-readable and agrees with the text, figure by figure', () => {
  const r = run(...tiny, '--input', 'image=f32[1,3,64,64]', '--json');
  assert.is(r.code, 0, r.err);
  const text = run(...tiny, '--input', 'image=f32[1,3,64,64]');
  assert.is(text.code, 0, text.err);
  interface Typed { name: string; type: { dtype: string; shape: number[] } }
  const s = JSON.parse(r.out) as {
    nodes: number; opsByName: Record<string, number>; opsByKind: Record<string, number>;
    params: { tensors: number; trainable: number; frozen: number }; flops: number;
    activationBytes: number; peakLiveBytes: number; inputs: Typed[]; outputs: Typed[];
  };
  assert.is(s.outputs.length, 15);
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const typed = (t: Typed) => `${t.name}: ${t.type.dtype}[${t.type.shape.join(', ')}]`;
  const want = [
    `DeFCN.forward: ${s.nodes} nodes`,
    ...s.inputs.map((t) => `  input  ${typed(t)}`),
    ...s.outputs.map((t) => `  output ${typed(t)}`),
    `parameters: ${s.params.trainable + s.params.frozen} (${s.params.trainable} trainable, ${s.params.frozen} frozen) in ${s.params.tensors} tensors`,
    `FLOPs: ${(s.flops / 1e6).toFixed(2)} M (${s.flops})`,
    `activations: ${kib(s.activationBytes)} in all, ${kib(s.peakLiveBytes)} peak live`,
    `ops by kind: ${Object.entries(s.opsByKind).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  ];
  const lines = text.out.split('\n');
  for (const w of want) assert.ok(lines.includes(w), `the text lacks '${w}':\n${text.out}`);
  // Ops by name: the same counts (the text sorts them by count).
  const byName = /^ops: (.*)$/m.exec(text.out)![1].split(', ').map((e) => e.split(' '));
  assert.equal(Object.fromEntries(byName.map(([n, c]) => [n, Number(c)])), s.opsByName);
});

test('--verbose prints one SSA line per node with its source place', () => {
  const r = run(...tiny, '--input', 'image=f32[1,3,64,64]', '--verbose');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /%\d+ = conv2d\(%\d+, %\d+(, %\d+)?\) \{.*\} : f32\[1, \d+, \d+, \d+\] .*models\/layers\.fd:\d+:\d+/);
});

test('unknown entry: one message, exit 1, no stack', () => {
  const r = run('models/defcn.fd', '--entry', 'Nope', '--input', 'image=f32[1,3,64,64]');
  assert.is(r.code, 1);
  assert.match(r.err, /Nope/);
  assert.not.match(r.err, /    at /);
});

test('bad --input spec: exit 2 naming the spec and the expected form', () => {
  const r = run(...tiny, '--input', 'image=f32[1,3,64');
  assert.is(r.code, 2);
  assert.match(r.err, /bad --input 'image=f32\[1,3,64': expected name=dtype\[d0,d1,\.\.\.\]/);
});

test('input that contradicts the signature (4 channels, H not a multiple of 32): exit 1 at the parameter', () => {
  const ch = run(...tiny, '--input', 'image=f32[1,4,64,64]');
  assert.is(ch.code, 1);
  assert.match(ch.err, /models\/defcn\.fd:\d+:\d+: error: .*/);
  const h = run(...tiny, '--input', 'image=f32[1,3,70,64]');
  assert.is(h.code, 1);
  assert.match(h.err, /32/);
});

test('malformed source: the diagnostic with file:line:col, exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-compile-'));
  const f = join(dir, 'bad.fd');
  writeFileSync(f, 'module M(C: int) {\n  fn forward(x: f32[B, C, H, W]) -> f32[B, C, H, W] {\n    return relu(x +)\n  }\n}\n');
  const r = run(f, '--entry', 'M', '--input', 'x=f32[1,2,3,3]');
  assert.is(r.code, 1);
  assert.match(r.err, /bad\.fd:3:\d+: error:/);
  assert.match(r.err, /\^/);
});

test('missing --entry or file: usage errors, exit 2', () => {
  assert.is(run('models/defcn.fd').code, 2);
  assert.is(run('--entry', 'DeFCN').code, 2);
  assert.is(run(...tiny, '--input', 'image=f32[1,3,64,64]', '--emit', 'asm').code, 2);
});

test.run();
