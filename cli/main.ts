#!/usr/bin/env node
// The `fusedet` command. Each subcommand is one file in cli/commands/ that
// default-exports a Command; the table is read from that folder, so adding a
// command never touches this file.
//
// Errors a user can cause carry a numeric `exitCode` (DiagnosticsError,
// DataError, RuntimeUnavailable, ...): we print their message alone, never a
// stack. Anything else is a bug in fusedet and is shown with its stack.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface Command {
  readonly name: string;
  /** One line for `fusedet --help`. */
  readonly summary: string;
  /** Full usage text for `fusedet NAME --help`. */
  readonly usage: string;
  /** Returns the exit code. */
  run(argv: string[]): Promise<number>;
}

const here = dirname(fileURLToPath(import.meta.url));

async function loadCommands(): Promise<Map<string, Command>> {
  const dir = join(here, 'commands');
  const out = new Map<string, Command>();
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.js')) continue;
    const mod = (await import(join(dir, f))) as { default?: Command };
    if (mod.default) out.set(mod.default.name, mod.default);
  }
  return out;
}

function isUserError(e: unknown): e is Error & { exitCode: number } {
  return e instanceof Error && typeof (e as { exitCode?: unknown }).exitCode === 'number';
}

export async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const width = Math.max(...[...commands.keys()].map((k) => k.length));
    process.stdout.write('usage: fusedet <command> [options]\n\ncommands:\n');
    for (const c of commands.values()) process.stdout.write(`  ${c.name.padEnd(width)}  ${c.summary}\n`);
    process.stdout.write('\n`fusedet <command> --help` shows a command\'s options.\n');
    return name ? 0 : 1;
  }
  const cmd = commands.get(name);
  if (!cmd) {
    process.stderr.write(`fusedet: unknown command '${name}'. Commands: ${[...commands.keys()].join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(e.message.endsWith('\n') ? e.message : e.message + '\n');
      return e.exitCode;
    }
    // util.parseArgs reports unknown or malformed options with these codes.
    const code = (e as { code?: string }).code;
    if (code && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fusedet ${name}: ${(e as Error).message}\n${cmd.usage}\n`);
      return 2;
    }
    throw e;
  }
}

// Run only when executed, not when imported by tests.
if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
