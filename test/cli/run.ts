/**
 * The admin CLI as an operator runs it beside a running server: `kalm ARGS` as a child process
 * on the server's database (as test/helpers/kalm-cli.ts does), with stdin, and the exit code
 * kept instead of thrown, since the tests here look at failures as closely as at successes.
 */
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { engineEnv } from '../helpers/engine.js';
import { KALM_BIN } from '../helpers/kalm-cli.js';

/**
 * A test that runs the CLI a few times: each run starts Node, tsx and the core (about 1 s of CPU),
 * which on a machine shared by several test runs can take far longer than the default 20 s.
 */
export const CLI_TIMEOUT = 120_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `kalm ...args` on `dataDir`'s database, `stdin` written and closed. */
export function runKalm(dataDir: string, args: string[], stdin = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KALM_BIN, ...args], {
      env: { ...process.env, ...engineEnv(dataDir), DEMO: '0', LOG_LEVEL: 'silent' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** `kalm ...args --json` that must succeed: its output parsed. */
export async function runKalmJson<T>(dataDir: string, args: string[], stdin = ''): Promise<T> {
  const r = await runKalm(dataDir, [...args, '--json'], stdin);
  expect(r.code, `kalm ${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}
