// `npm install` builds the native addon (binding.gyp) through node-gyp. Without
// a C++ compiler that fails; the data, eval and checking commands still work,
// so the install goes on and says once, clearly, what is missing. The CPU and
// CUDA runtimes then report "the native addon is not built" when asked for.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
let gyp;
try { gyp = require.resolve('node-gyp/bin/node-gyp.js'); } catch { gyp = undefined; }
// Build against the headers Node was installed with when they are there (npm
// passes them as npm_config_nodedir): node-gyp would otherwise download them,
// and these machines reach only the npm registry.
const args = [gyp, 'rebuild'];
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) args.push('--nodedir=/usr');
const r = gyp
  ? spawnSync(process.execPath, args, { stdio: 'inherit' })
  : { status: 1, error: new Error('node-gyp is not installed') };
if (r.status !== 0) {
  process.stderr.write(
    '\nfusedet: the native addon was not built (node-gyp failed; see above).\n' +
    '  The CPU and CUDA runtimes need it: install a C/C++ toolchain (Debian: apt-get install build-essential python3)\n' +
    '  and run `npm rebuild fusedet` or `npm install` again. Checking, data and evaluation commands work without it.\n\n');
}
