// A software WebGPU adapter (the runtime's own detection, gpu.software) is
// passed to the compiler as TargetLimits.software; a hardware adapter's
// options do not carry the flag at all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileOptionsFor } from '../../runtime/compile-options.js';
import type { Runtime } from '../../runtime/interface.js';

const webgpu = (software: boolean): Runtime => ({
  name: 'webgpu',
  load: async () => { throw new Error('not used'); },
  limits: { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256 },
  gpu: { software },
}) as unknown as Runtime;

test('a software adapter sets limits.software', () => {
  assert.equal(compileOptionsFor(webgpu(true)).limits, { maxWorkgroupStorageBytes: 32768, maxInvocations: 256, software: true });
});

test('a hardware adapter leaves it out', () => {
  assert.equal(compileOptionsFor(webgpu(false)).limits, { maxWorkgroupStorageBytes: 32768, maxInvocations: 256 });
});

test.run();
