import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { engineEnv } from './engine.js';

/** The `kalm` bin of the server workspace, as `npx kalm` runs it. */
export const KALM_BIN = fileURLToPath(new URL('../../server/bin/kalm.js', import.meta.url));

const run = promisify(execFile);

/**
 * `kalm ARGS` on the database of `dataDir` (its file, or its PostgreSQL database in the postgres project), as an operator runs it beside a server (no demo
 * data, quiet logs). Resolves with its output; rejects, with the output, on a non-zero exit.
 */
export function kalmCli(dataDir: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [KALM_BIN, ...args], { env: { ...process.env, ...engineEnv(dataDir), DEMO: '0', LOG_LEVEL: 'silent' } });
}
