// Programs are compiled for the runtime that will run them: each runtime
// reports its target (Runtime.target), and the environment is read into
// compile options at the edge only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileOptionsFromEnv } from '../../runtime/compile-options.js';
import { CPU, webgpuDeviceTarget } from '../../compiler/target.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';

test('webgpu: the target carries the device limits', () => {
  const t = webgpuDeviceTarget({ maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxStorageBuffersPerShaderStage: 10 }, false);
  assert.equal([t.name, t.maxWorkgroupStorageBytes, t.maxInvocations, t.maxStorageBuffers, t.software], ['webgpu', 16384, 256, 10, false]);
  assert.is(webgpuDeviceTarget({ maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxStorageBuffersPerShaderStage: 10 }, false, 6).maxStorageBuffers, 6, 'a runtime option can lower the binding limit');
});

test('cpu: its own target', () => {
  // Shaped for this machine's vector ISA (Target.cpuIsa), a CPU target all the same.
  const t = new CpuRuntime().target;
  assert.is(t.name, 'cpu');
  assert.is(t.maxWorkgroupStorageBytes, CPU.maxWorkgroupStorageBytes);
  assert.ok(t.vectorWidth >= 1 && t.registerTile.rows >= 1);
});

test('FUSEDET_DEBUG is read into the options at the edge, other options kept', () => {
  assert.equal(compileOptionsFromEnv({ FUSEDET_DEBUG: '3' }, { fuse: false }), { fuse: false, debug: 3 });
  assert.equal(compileOptionsFromEnv({}, { fuse: true }), { fuse: true });
  assert.equal(compileOptionsFromEnv({ FUSEDET_DEBUG: 'abc' }), {});
});

test.run();
