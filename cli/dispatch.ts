// The `fusedet` command. Each subcommand is one file in cli/commands/ that
// default-exports a Command; the table is read from that folder, so adding a
// command never touches this file.
//
// Errors a user can cause extend FusedetError (io/errors.ts) or carry a
// numeric `exitCode`: we print their message and hint, never a stack. Anything else is a bug in fusedet and is shown with its stack.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { formatUserError, isUserFacing } from '../io/errors.js';

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

async function loadCommand(file: string): Promise<Command | undefined> {
  const mod = (await import(join(here, 'commands', file))) as { default?: Command };
  return mod.default;
}

/** Every command, for the help listing. */
async function loadCommands(): Promise<Map<string, Command>> {
  const out = new Map<string, Command>();
  for (const f of readdirSync(join(here, 'commands')).sort()) {
    if (!f.endsWith('.js')) continue;
    const c = await loadCommand(f);
    if (c) out.set(c.name, c);
  }
  return out;
}

/** One command by name: loads only its own module (start-up stays fast). */
async function findCommand(name: string): Promise<Command | undefined> {
  const file = `${name}.js`;
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(join(here, 'commands', file))) return undefined;
  const c = await loadCommand(file);
  return c && c.name === name ? c : undefined;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const commands = await loadCommands();
    const width = Math.max(...[...commands.keys()].map((k) => k.length));
    process.stdout.write('usage: fusedet <command> [options]\n\ncommands:\n');
    for (const c of commands.values()) process.stdout.write(`  ${c.name.padEnd(width)}  ${c.summary}\n`);
    process.stdout.write('\n`fusedet <command> --help` shows a command\'s options.\n');
    return name ? 0 : 1;
  }
  const cmd = await findCommand(name);
  if (!cmd) {
    const names = [...(await loadCommands()).keys()];
    process.stderr.write(`fusedet: unknown command '${name}'. Commands: ${names.join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (isUserFacing(e)) {
      process.stderr.write(formatUserError(e));
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

