/**
 * What every `kalm` command is made of: its entry in the command table (synopsis, help, run),
 * the errors that choose the exit code, the core it runs on, and small helpers for reading
 * arguments and printing records. Exit codes: 0 done, 1 refused or failed, 2 a wrong command
 * line or an unknown id (NotFoundError), as kcadm and the Hydra CLI treat a bad reference.
 */
import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';
import { GRANT_TYPES } from '../core/clients.js';
import type { AuditActor, Core } from '../core/index.js';

/** One command of the table (`cli/index.ts`), under its words (`client show`). */
export interface CliCommand {
  /** The synopsis: `kalm client show CLIENT_ID [--json]` (continuation lines indented). */
  usage: string;
  /** One line for the list of `kalm help`, when the synopsis does not say enough. */
  summary?: string;
  /** What it does and what it prints, for `kalm <command> --help`. */
  help: string;
  run(args: string[], config: Config): Promise<void>;
}

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/**
 * Open the store of `config`, build the core, run `fn` and close the store whatever happens.
 * Both are loaded here, not at start: `--help` and a wrong command line answer without them.
 */
export async function withCore<T>(config: Config, fn: (core: Core) => Promise<T>): Promise<T> {
  const [{ createCore }, { openStore }] = await Promise.all([import('../core/index.js'), import('../store/open.js')]);
  const store = await openStore(config);
  try {
    // What a command changes is recorded in the audit trail as done by `cli` (the system account that ran it).
    return await fn(await createCore({ config, store, audit: { actor: cliActor() } }));
  } finally {
    await store.close();
  }
}

/** The audit trail's actor of a command: `cli`, named by the system account (none where it has no name). */
function cliActor(): AuditActor {
  try {
    return { type: 'cli', name: userInfo().username };
  } catch {
    return { type: 'cli' };
  }
}

/** Everything on stdin, without the one line end a shell or `echo` adds. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse `args` with `options` (plus `--json`), taking exactly the positional arguments named in
 * `positionals` (`['CLIENT_ID']`): one missing or one too many is a UsageError naming it.
 */
export function parseCommand<O extends Options>(args: string[], options: O, positionals: string[] = []) {
  const parsed = parseArgs({ args, options: { json: { type: 'boolean' }, ...options }, allowPositionals: true, strict: true });
  const given = parsed.positionals;
  if (given.length < positionals.length) throw new UsageError(`give the ${positionals[given.length]}`);
  if (given.length > positionals.length) throw new UsageError(`unexpected argument "${given[positionals.length]}"`);
  return { values: parsed.values, positionals: given };
}

/** Print `value` as one JSON document (the `--json` output of every command). */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

/** Print label/value pairs aligned, one per line: the text form of `show`. */
export function printFields(fields: Array<[string, string]>): void {
  const width = Math.max(...fields.map(([label]) => label.length));
  for (const [label, value] of fields) console.log(`${label.padEnd(width)}  ${value}`);
}

/** Print rows as tab-separated columns under a header, or `empty` when there are none. */
export function printTable(header: string[], rows: string[][], empty: string): void {
  if (rows.length === 0) {
    console.log(empty);
    return;
  }
  console.log(header.join('\t'));
  for (const row of rows) console.log(row.join('\t'));
}

/** A time for people: ISO 8601 in UTC, to the second. */
export function time(ms: number | null | undefined, none = '-'): string {
  return ms == null ? none : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A whole number of seconds from a flag, or null when absent. */
export function seconds(flag: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number of seconds`);
  return Number(value);
}

/** The short name a person types for a grant type URN (`device_code`), as `--grant` takes it. */
export function grantName(grantType: string): string {
  return grantType === GRANT_TYPES.deviceCode ? 'device_code' : grantType;
}
