// Programs are compiled for the runtime that will run them: WebGPU gets GPU
// tiles within its device's limits, the others their own target.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileOptionsFor } from '../../runtime/compile-options.js';
import type { Runtime } from '../../runtime/interface.js';

const fake = (name: Runtime['name'], extra: object = {}): Runtime => ({ name, load: async () => { throw new Error('not used'); }, ...extra }) as unknown as Runtime;

test('webgpu: target and the device limits', () => {
  const o = compileOptionsFor(fake('webgpu', { limits: { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 } }), { fuse: false });
  assert.equal(o, { fuse: false, target: 'webgpu', limits: { maxWorkgroupStorageBytes: 16384, maxInvocations: 256 } });
});

test('cpu and cuda: their own target, options kept', () => {
  assert.equal(compileOptionsFor(fake('cpu')), { target: 'cpu' });
  assert.equal(compileOptionsFor(fake('cuda'), { fuse: true }), { fuse: true, target: 'cuda' });
});

test.run();
