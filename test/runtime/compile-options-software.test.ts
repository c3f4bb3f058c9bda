// A software WebGPU adapter (the runtime's own detection, gpu.software)
// reaches the compiler as Target.software; a hardware adapter's target has it false.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { webgpuDeviceTarget } from '../../compiler/target.js';

const limits = { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256 };

test('a software adapter sets target.software', () => {
  const t = webgpuDeviceTarget(limits, true);
  assert.equal([t.maxWorkgroupStorageBytes, t.maxInvocations, t.software], [32768, 256, true]);
});

test('a hardware adapter leaves it false', () => {
  assert.is(webgpuDeviceTarget(limits, false).software, false);
});

test.run();
