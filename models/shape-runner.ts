// One training run over batches of several shapes. A compiled step has fixed
// input shapes, and real data brings a few (image sizes padded to a bucket,
// G rounded to a power of two): each (input shapes) key is compiled once,
// on first use, and kept (up to `keep`, least recently used first out). The
// weights and momentum live in whichever step ran last; switching shape
// moves them across (getState → setState), so the run is one optimisation
// whatever the order of shapes. trainLoop sees one StepRunner and one
// TrainStep (`view`, whose graph is the current shape's: the NaN probe
// interprets it with the current batch).
import type { TrainStep } from '../compiler/train-step.js';
import type { Tensor } from '../compiler/tensor.js';
import type { ConcreteType } from '../compiler/types.js';
import type { StepResult, StepRunner } from './step-runner.js';

export interface ShapeRunnerOptions {
  /** Lowers and differentiates the training entry for these input types. */
  build(types: Record<string, ConcreteType>): TrainStep;
  /** Compiles and loads a step with this state (runtimeRunner or referenceRunner). */
  open(step: TrainStep, state: Map<string, Tensor>): Promise<StepRunner>;
  /** A step of any shape: names the terms and the state before the first compile. */
  nominal: TrainStep;
  initial: Map<string, Tensor>;
  /** Compiled steps kept at once (default 3). */
  keep?: number;
  /** Told of every compile (a progress line). */
  onCompile?: (key: string, seconds: number) => void;
}

interface Entry { key: string; step: TrainStep; runner: StepRunner }

export const shapeKey = (inputs: Record<string, Tensor | ConcreteType>): string =>
  Object.keys(inputs).sort().map((k) => `${k}=${inputs[k]!.dtype}[${inputs[k]!.shape.join(',')}]`).join(' ');

export class ShapeRunner implements StepRunner {
  private readonly cache: Entry[] = [];
  private active: Entry | undefined;
  /** The state while no step is active (before the first batch, or after setState with none). */
  private parked: Map<string, Tensor> | undefined;
  readonly view: TrainStep;
  compiles = 0;

  constructor(private readonly o: ShapeRunnerOptions) {
    this.parked = o.initial;
    const cur = (): TrainStep => this.active?.step ?? o.nominal;
    this.view = {
      get graph() { return cur().graph; },
      get terms() { return cur().terms; },
      get trained() { return cur().trained; },
      get momentum() { return cur().momentum; },
      get state() { return cur().state; },
      get proposed() { return cur().proposed; },
    } as TrainStep;
  }

  get where(): string {
    return this.active ? `${this.active.runner.where}; ${this.compiles} compiled shape${this.compiles === 1 ? '' : 's'}` : 'no step compiled yet';
  }

  private async use(inputs: Record<string, Tensor>): Promise<Entry> {
    const key = shapeKey(inputs);
    if (this.active?.key === key) return this.active;
    const state = this.active ? await this.active.runner.getState() : this.parked!;
    let e = this.cache.find((c) => c.key === key);
    if (e) {
      await e.runner.setState(state);
      this.cache.splice(this.cache.indexOf(e), 1);
    } else {
      const t0 = performance.now();
      const types = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape] }]));
      const step = this.o.build(types);
      e = { key, step, runner: await this.o.open(step, state) };
      this.compiles++;
      this.o.onCompile?.(key, (performance.now() - t0) / 1000);
    }
    this.cache.push(e);
    while (this.cache.length > Math.max(1, this.o.keep ?? 3)) this.cache.shift()!.runner.dispose();
    this.active = e;
    this.parked = undefined;
    return e;
  }

  async step(inputs: Record<string, Tensor>, lr: number, lossScale: number): Promise<StepResult> {
    return (await this.use(inputs)).runner.step(inputs, lr, lossScale);
  }

  async getState(): Promise<Map<string, Tensor>> {
    if (this.active) return this.active.runner.getState();
    return new Map([...this.parked!].map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() }]));
  }

  async setState(s: Map<string, Tensor>): Promise<void> {
    if (this.active) await this.active.runner.setState(s);
    else this.parked = s;
  }

  dispose(): void {
    for (const e of this.cache) e.runner.dispose();
    this.cache.length = 0;
    this.active = undefined;
  }
}
