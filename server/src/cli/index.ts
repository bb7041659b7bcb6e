/**
 * `kalm`, the command line of the server: the table of every command by its words, the help
 * built from it, and the one place that turns what a command threw into a message and an exit
 * code (0 done, 1 refused or failed, 2 a wrong command line or an unknown id). Each command group
 * lives in a file of its own beside this one.
 */
import { configFromEnv } from '../config.js';
import { NotFoundError, OAuthError } from '../core/errors.js';
import { auditCommands } from './audit.js';
import { clientCommands } from './clients.js';
import { deviceCommands } from './devices.js';
import { keyCommands } from './keys.js';
import { UsageError, type CliCommand } from './kit.js';
import { registrationCommands } from './registration.js';
import { serverCommands } from './serve.js';
import { userCommands } from './users.js';

/** Every command, by its words, in the order `kalm help` lists them. */
export const commands: Record<string, CliCommand> = {
  ...serverCommands,
  ...clientCommands,
  ...userCommands,
  ...deviceCommands,
  ...keyCommands,
  ...registrationCommands,
  ...auditCommands,
};

/** Where the ids of what a NotFoundError names are listed (its description begins `no client "…"`). */
const LISTED_BY: Array<[RegExp, string]> = [
  [/^no client\b/, 'kalm client list'],
  [/^no user\b/, 'kalm user list'],
  [/^no paired device\b/, 'kalm device list'],
];

const HEADER = 'kalm — the Kalm authorization server';
const FOOTER = `Grants: device_code, refresh_token, authorization_code, client_credentials.
DATABASE_URL (postgres://...) decides which database is changed; unset, the SQLite one in DATA_DIR (default ./data).
Every command but serve and migrate takes --json. kalm <command> --help says what a command does.
Exit codes: 0 done, 1 refused or failed, 2 a wrong command line or an unknown id.`;

const SUMMARY_COLUMN = 47;

/** One command's lines in a list: its synopsis, and its summary beside it or below it. */
function synopsis(command: CliCommand): string {
  const lines = command.usage.split('\n').map((line) => `  ${line}`);
  if (command.summary) {
    if (lines.length === 1 && lines[0]!.length < SUMMARY_COLUMN - 1) lines[0] = `${lines[0]!.padEnd(SUMMARY_COLUMN)}${command.summary}`;
    else lines.push(`${' '.repeat(SUMMARY_COLUMN)}${command.summary}`);
  }
  return lines.join('\n');
}

/** The synopses of the commands whose words begin with `prefix` (all of them for ''). */
function usage(prefix = ''): string {
  const listed = Object.entries(commands).filter(([words]) => prefix === '' || words === prefix || words.startsWith(`${prefix} `));
  return `Usage:\n${listed.map(([, command]) => synopsis(command)).join('\n')}`;
}

const fullUsage = () => `${HEADER}\n\n${usage()}\n\n${FOOTER}`;

const HELP_WIDTH = 100;

/** Paragraphs (split at blank lines) reflowed to HELP_WIDTH columns. */
function reflow(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((paragraph) => {
      const lines: string[] = [];
      let line = '';
      for (const word of paragraph.split(/\s+/).filter(Boolean)) {
        if (line && line.length + 1 + word.length > HELP_WIDTH) {
          lines.push(line);
          line = word;
        } else line = line ? `${line} ${word}` : word;
      }
      return [...lines, line].join('\n');
    })
    .join('\n\n');
}

/** `kalm <command> --help`: the synopsis and what the command does. */
function commandHelp(command: CliCommand): string {
  return `Usage:\n${synopsis(command)}\n\n${reflow(command.help)}`;
}

/** The help asked for with `kalm help WORDS…`, `kalm WORDS… --help`; undefined for unknown words. */
function helpFor(words: string[]): string | undefined {
  if (words.length === 0) return fullUsage();
  const two = words.slice(0, 2).join(' ');
  const command = commands[two] ?? commands[words[0]!];
  if (command) return commandHelp(command);
  const group = Object.keys(commands).some((w) => w.startsWith(`${words[0]} `));
  return group ? `${usage(words[0])}\n\nkalm ${words[0]} <command> --help says what a command does.` : undefined;
}

/** Which command `argv` names, and the arguments left for it. */
function resolve(argv: string[]): { words: string; command: CliCommand | undefined; rest: string[] } {
  const two = argv.slice(0, 2).join(' ');
  if (commands[two]) return { words: two, command: commands[two], rest: argv.slice(2) };
  return { words: argv[0]!, command: commands[argv[0]!], rest: argv.slice(1) };
}

/** Run the command `argv` names; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    console.error(fullUsage());
    return 2;
  }
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    const help = helpFor(argv.slice(1));
    console.log(help ?? fullUsage());
    return help ? 0 : 2;
  }
  const { words, command, rest } = resolve(argv);
  // `--help` anywhere before a `--` asks for help instead of running the command.
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.includes('--help') || options.includes('-h')) {
    const help = helpFor(argv.filter((a) => a !== '--help' && a !== '-h'));
    if (help) {
      console.log(help);
      return 0;
    }
  }
  try {
    if (!command) {
      const group = Object.keys(commands).some((w) => w.startsWith(`${argv[0]} `));
      if (group) throw new UsageError(argv.length === 1 ? `kalm ${argv[0]} needs a command` : `unknown command "kalm ${argv.slice(0, 2).join(' ')}"`);
      throw new UsageError(`unknown command "${argv[0]}"`);
    }
    await command.run(rest, configFromEnv());
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      const help = command ? `${usage(words)}\n\nkalm ${words} --help says more.` : (helpFor([argv[0]!]) ?? fullUsage());
      console.error(`kalm: ${(err as Error).message}\n\n${help}`);
      return 2;
    }
    if (err instanceof NotFoundError) {
      const listedBy = LISTED_BY.find(([pattern]) => pattern.test(err.description))?.[1];
      console.error(`kalm: ${err.description}${listedBy ? ` (${listedBy} shows them)` : ''}`);
      return 2;
    }
    if (err instanceof OAuthError) {
      console.error(`kalm: ${err.description}`);
      return 1;
    }
    console.error(`kalm: ${(err as Error).message}`);
    return 1;
  }
}

/** The `kalm` bin: run `argv` and set the exit code; `kalm serve` keeps running after main returns. */
export async function runCli(argv: string[]): Promise<void> {
  const code = await main(argv);
  if (code !== 0 || argv[0] !== 'serve') process.exitCode = code;
}
