#!/usr/bin/env node
// The `fusedet` executable. The dispatcher lives in dispatch.ts so that a
// command may call other commands (the demo does) without importing the
// module that is still running this top-level await.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from './dispatch.js';

export { main } from './dispatch.js';
export type { Command } from './dispatch.js';

// Run only when executed, not when imported by tests.
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
