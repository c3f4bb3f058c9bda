// tfjs-backend-webgpu on the same Dawn/SwiftShader as fusedet: tfjs looks for
// navigator.gpu, so the `webgpu` package's globals and a GPU created with the
// same Dawn toggles fusedet's node.ts uses are installed before the backend
// loads. The GPU object stays referenced (module variable) for the process.
import { existsSync } from 'node:fs';
import { SWIFTSHADER_ICD } from '../../runtime-webgpu/node.js';

let gpu: GPU | undefined;

export async function installNavigatorGpu(): Promise<void> {
  if (gpu) return;
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const mod = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  const features = ['disable_workgroup_init', ...(process.env.FUSEDET_DAWN_FEATURES ?? '').split(',').filter((f) => f)];
  gpu = mod.create([`enable-dawn-features=${features.join(',')}`]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
}
