// The CUDA addon's sources compile warning-free (-Wall -Wextra -Werror) with
// g++ against Node's and node-addon-api's headers and nothing from CUDA: the
// guarantee that `npm install` builds it on machines without CUDA. Also the
// binding.gyp target lists every source of native/cuda.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const sources = readdirSync(join(root, 'native/cuda')).filter((f) => f.endsWith('.cc')).sort();

test('binding.gyp builds every native/cuda source into fusedet_cuda, and links only libdl', () => {
  const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')) as { targets: { target_name: string; sources: string[]; libraries: string[] }[] };
  const target = gyp.targets.find((t) => t.target_name === 'fusedet_cuda');
  assert.ok(target, 'a fusedet_cuda target');
  assert.equal([...target!.sources].sort(), sources.map((f) => `native/cuda/${f}`));
  assert.equal(target!.libraries, ['-ldl']);
});

const nodeInclude = ['/usr/include/node', join(process.execPath, '../../include/node')].find((d) => existsSync(join(d, 'node_api.h')));
const gxx = spawnSync('g++', ['--version']).status === 0;
const why = !gxx ? 'no g++' : !nodeInclude ? "no Node headers (node_api.h)" : undefined;
if (why) console.log(`SKIP addon compile: ${why}`);

(why ? test.skip : test)('each source compiles with -Wall -Wextra -Werror and no CUDA headers on the include path', () => {
  const addonApi = (createRequire(import.meta.url)('node-addon-api') as { include_dir: string }).include_dir;
  for (const f of sources) {
    const r = spawnSync('g++', ['-std=c++17', '-fsyntax-only', '-Wall', '-Wextra', '-Werror', `-I${nodeInclude}`, `-I${join(root, addonApi)}`,
      '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', join(root, 'native/cuda', f)], { encoding: 'utf8', timeout: 120_000 });
    assert.is(r.status, 0, `${f}:\n${r.stderr}`);
  }
});

test.run();
