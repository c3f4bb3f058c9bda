// Loading one of fusedet's native addons (build/Release/*.node, built by
// `npm install` through binding.gyp), once per process: the module, or the
// one sentence saying why it is missing or does not load. Node only.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Addon<T> {
  /** The module, or undefined with failure() saying why. */
  get(): T | undefined;
  failure(): string | undefined;
}

/**
 * `file` is the addon's name under build/Release; FUSEDET_ADDON_DIR (read
 * when first asked) points elsewhere (the GPU bundle ships them beside it).
 * `what` names it in messages ("native addon", "CUDA addon").
 */
export function nativeAddon<T>(file: string, what: string, env: NodeJS.ProcessEnv = process.env): Addon<T> {
  let loaded: T | undefined;
  let failure: string | undefined;
  const load = (): T | undefined => {
    if (loaded || failure) return loaded;
    const path = env.FUSEDET_ADDON_DIR ? join(env.FUSEDET_ADDON_DIR, file) : fileURLToPath(new URL(`../../build/Release/${file}`, import.meta.url));
    if (!existsSync(path)) {
      failure = `the ${what} is not built (${path} is missing): run \`npm install\` in the fusedet folder (it needs a C++ compiler: apt-get install build-essential)`;
      return undefined;
    }
    try {
      loaded = createRequire(import.meta.url)(path) as T;
    } catch (e) {
      failure = `the ${what} at ${path} does not load (${(e as Error).message}): rebuild it with \`npx node-gyp rebuild\``;
    }
    return loaded;
  };
  return { get: load, failure: () => { load(); return failure; } };
}
