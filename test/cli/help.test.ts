// The help every command carries: `kalm help` lists each command of issue 15, `kalm <command>
// --help` explains it, a wrong command line answers with the usage and exit code 2, and `npx
// kalm` finds the bin. None of
// it opens a database (the help test proves so), so it runs on SQLite only (vitest.config.ts).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_TIMEOUT, runKalm } from './run.js';

/** No server and no database: a data dir that does not exist, which help must not create. */
const NO_DATABASE = '/nonexistent/kalm-help';
const kalm = (...args: string[]) => runKalm(NO_DATABASE, args);

/** Every command issue 15 asks for, and those that were there before it. */
const COMMANDS = [
  'client create', 'client list', 'client show', 'client update', 'client delete', 'client rotate-secret',
  'user create', 'user list', 'user show', 'user disable', 'user enable', 'user delete', 'user set-password', 'user set-role',
  'device list', 'device revoke',
  'keys list', 'keys rotate',
  'iat create', 'migrate', 'serve',
];

describe('kalm help', { timeout: CLI_TIMEOUT }, () => {
  it('lists every command with its synopsis', async () => {
    const r = await kalm('help');
    expect(r.code).toBe(0);
    for (const words of COMMANDS) expect(r.stdout).toContain(`  kalm ${words}`);
    expect(r.stdout).toContain('Exit codes: 0 done, 1 refused or failed, 2 a wrong command line or an unknown id.');
  });

  it('explains each command with <command> --help and with help <command>, exit code 0, touching no database', async () => {
    const asked = COMMANDS.map((words, i) => (i % 2 === 0 ? [...words.split(' '), '--help'] : ['help', ...words.split(' ')]));
    // A data dir that does not exist: help must not open (or create) a database.
    const results = await Promise.all(asked.map((args) => kalm(...args)));
    results.forEach((r, i) => {
      expect(r.code, asked[i]!.join(' ')).toBe(0);
      expect(r.stdout, asked[i]!.join(' ')).toMatch(new RegExp(`^Usage:\\n  kalm ${COMMANDS[i]}\\b[^\\n]*\\n(?:.*\\n)*\\n\\S`));
      expect(r.stderr).toBe('');
    });
    expect(existsSync(NO_DATABASE)).toBe(false);
  });

  it("lists a group's commands for kalm <group> --help", async () => {
    const r = await kalm('user', '--help');
    expect(r.code).toBe(0);
    const listed = r.stdout.split('\n').filter((l) => l.startsWith('  kalm ')).map((l) => l.trim().split(' ').slice(1, 3).join(' '));
    expect(listed).toEqual(COMMANDS.filter((c) => c.startsWith('user ')));
  });

  it('answers a wrong command line with the usage and exit code 2', async () => {
    const cases = [[], ['frobnicate'], ['client'], ['client', 'frobnicate'], ['device', 'list', 'extra'], ['keys', 'list', '--all']];
    const results = await Promise.all(cases.map((args) => kalm(...args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]!.join(' ')).toBe(2);
      expect(r.stderr, cases[i]!.join(' ')).toContain('Usage:');
      expect(r.stdout).toBe('');
    });
    expect(results[3]!.stderr).toContain('unknown command "kalm client frobnicate"');
    expect(results[4]!.stderr).toContain('unexpected argument "extra"');
    expect(existsSync(NO_DATABASE)).toBe(false);
  });

  it('refuses a wrong create command line with the usage and exit code 2', async () => {
    const cases = [
      ['client', 'create', '--name', 'x', '--public', '--grant', 'device_code'], // no --scope
      ['client', 'create', '--name', 'x', '--public', '--confidential', '--grant', 'device_code', '--scope', 'valuate:read'],
      ['client', 'create', '--name', 'x', '--public', '--grant', 'device_code', '--scope', 'valuate:read', '--interval', 'soon'],
      ['user', 'create', '--username', 'bob'],
      ['frobnicate'],
    ];
    const results = await Promise.all(cases.map((args) => kalm(...args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]!.join(' ')).toBe(2);
      expect(r.stderr).toContain('Usage:');
    });
    expect(existsSync(NO_DATABASE)).toBe(false);
  });

  it('is linked as the root bin, so `npx kalm` works from the repository root', async () => {
    const bin = path.resolve(import.meta.dirname, '../../node_modules/.bin/kalm');
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(bin, ['--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout }));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kalm client create');
  });
});
