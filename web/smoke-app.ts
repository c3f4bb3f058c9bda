// The smoke page's script (smoke.html): compiles a tiny detector-shaped graph in the page
// and runs it, and the hand-written smoke program, on navigator.gpu; shows a
// summary and leaves the full result on globalThis.fusedetResult for the
// headless browser test to compare with Node. With ?program=NAME it runs
// the program file NAME.json (web/program-file.ts) instead: what Node
// compiled from a model, e.g. the tiny DeFCN, or with ?steps=N a training
// step (test/web/browser-train.test.ts gives it the small DeFCN's
// ground-truth step, the assignment inside, and a generated scene).
import { createBrowserWebGpu } from '../runtime-webgpu/browser.js';
import { compileGraph } from '../compiler/program.js';
import { smokeProgram, smokeData, SMOKE_ROWS, SMOKE_COLS } from './smoke-program.js';
import { demoGraph } from './demo-graph.js';
import { decodeProgramFile } from './program-file.js';
import { encodeSafetensors } from '../api/safetensors.js';
import type { Tensor } from '../compiler/tensor.js';

export interface PageResult {
  ok: boolean;
  adapter?: string;
  error?: string;
  outputs?: Record<string, number[]>;
  ms?: number;
  /** ?steps=N: the loss of each training step, and the size of the trained weights offered for download. */
  losses?: number[];
  weightsBytes?: number;
}

interface PageGlobals {
  fusedetResult?: PageResult;
  document?: { getElementById(id: string): { textContent: string | null } | null };
  location?: { search: string };
  fetch?: (url: string) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;
}
const g = globalThis as PageGlobals;

/**
 * Runs the program file NAME.json once, or with ?steps=N (a compiled
 * training step: weights and momentum updated in place on the device) N
 * times, collecting the loss of each step; then offers the trained weights
 * as a safetensors download (#download) and returns them too.
 */
async function runProgramFile(name: string, steps: number): Promise<PageResult> {
  const rt = await createBrowserWebGpu();
  const res = await g.fetch!(`${encodeURIComponent(name)}.json`);
  if (!res.ok) throw new Error(`${name}.json: HTTP ${res.status}`);
  const { program, params, inputs } = decodeProgramFile(await res.text());
  const ex = await rt.load(program);
  await ex.setParams(params);
  const t0 = performance.now();
  let out = await ex.run(inputs);
  const losses: number[] = [];
  if (steps > 0) {
    losses.push(out.loss!.data[0]!);
    for (let i = 1; i < steps; i++) { out = await ex.run(inputs); losses.push(out.loss!.data[0]!); }
  }
  const ms = performance.now() - t0;
  let weightsBytes: number | undefined;
  if (steps > 0) {
    const trained = new Map<string, Tensor>();
    for (const p of Object.keys(program.params)) trained.set(p, await ex.getParam(p));
    const bytes = encodeSafetensors(trained, { note: `trained in the page: ${steps} steps on ${rt.gpu.description}` });
    weightsBytes = bytes.length;
    offerDownload(bytes, 'trained.safetensors');
  }
  ex.dispose();
  const outputs: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(out)) outputs[k] = Array.from(t.data);
  return { ok: true, adapter: rt.gpu.description, outputs, ms, ...(steps > 0 ? { losses, weightsBytes } : {}) };
}

/** A link that downloads the bytes (the page's trained weights). */
function offerDownload(bytes: Uint8Array, file: string): void {
  const d = g.document as unknown as { createElement(t: string): { href: string; download: string; id: string; textContent: string }; body: { append(n: unknown): void } } | undefined;
  const w = globalThis as unknown as { Blob: new (p: unknown[], o: { type: string }) => unknown; URL: { createObjectURL(b: unknown): string } };
  if (!d) return;
  const a = d.createElement('a');
  a.href = w.URL.createObjectURL(new w.Blob([bytes], { type: 'application/octet-stream' }));
  a.download = file; a.id = 'download'; a.textContent = `download ${file}`;
  d.body.append(a);
}

async function runPage(): Promise<PageResult> {
  try {
    const file = new URLSearchParams(g.location?.search ?? '').get('program');
    if (file) return await runProgramFile(file, Number(new URLSearchParams(g.location?.search ?? '').get('steps') ?? 0));
    const rt = await createBrowserWebGpu();
    const ex = await rt.load(smokeProgram(SMOKE_ROWS, SMOKE_COLS));
    const { x, w } = smokeData(SMOKE_ROWS, SMOKE_COLS);
    await ex.setParams({ w });
    const t0 = performance.now();
    const out = await ex.run({ x });
    ex.dispose();
    const demo = demoGraph();
    const dex = await rt.load(compileGraph(demo.graph, rt.target, { fuse: true }));
    await dex.setParams(demo.params);
    Object.assign(out, await dex.run(demo.inputs));
    dex.dispose();
    const ms = performance.now() - t0;
    const outputs: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(out)) outputs[k] = Array.from(t.data);
    return { ok: true, adapter: rt.gpu.description, outputs, ms };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

const result = await runPage();
g.fusedetResult = result;
const el = g.document?.getElementById('status');
if (el) {
  el.textContent = result.ok
    ? `adapter: ${result.adapter}\nrun: ${result.ms?.toFixed(1)} ms\n` +
      Object.entries(result.outputs ?? {}).map(([k, v]) => `${k}: ${v.length} values, first ${v.slice(0, 4).map((n) => n.toFixed(4)).join(', ')}`).join('\n')
    : `failed: ${result.error}`;
}
