// `kalm keys list` beside a running server, and the help every command carries: `kalm help`
// lists each command of issue 15, `kalm <command> --help` explains it, and a wrong command line
// answers with the usage and exit code 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyInfo } from '../../server/src/core/keys.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CLI_TIMEOUT, runKalm, runKalmJson } from './run.js';

let server: TestServer;
const kalm = (...args: string[]) => runKalm(server.dataDir, args);

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() });
});
afterAll(() => server?.stop());

describe('kalm keys list', { timeout: CLI_TIMEOUT }, () => {
  it('lists the active keys, and after a rotation the retired ones until they leave the JWKS; never a private key', async () => {
    const before = await runKalmJson<KeyInfo[]>(server.dataDir, ['keys', 'list']);
    expect(before.map((k) => [k.alg, k.use, k.state]).sort()).toEqual([
      ['ECDH-ES+A256KW', 'enc', 'active'],
      ['ES256', 'sig', 'active'],
      ['RS256', 'sig', 'active'],
    ]);

    const after = await runKalmJson<KeyInfo[]>(server.dataDir, ['keys', 'rotate']);
    const [listed, text] = await Promise.all([runKalmJson<KeyInfo[]>(server.dataDir, ['keys', 'list']), kalm('keys', 'list')]);
    expect(listed).toEqual(after);
    expect(listed).toHaveLength(6);
    const retired = listed.filter((k) => k.state === 'retired');
    expect(retired.map((k) => k.kid).sort()).toEqual(before.map((k) => k.kid).sort());
    for (const k of retired) expect(k.publishedUntil).toBe(k.retiredAt! + server.core.config.accessTokenTtl * 1000);
    // The running server still publishes what the list calls retired, beside the new keys (re-read at most 30 s later).
    server.clock.advance(31_000);
    const published = ((await (await fetch(`${server.url}/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    expect(published.sort()).toEqual(listed.map((k) => k.kid).sort());

    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe('KID\tALG\tUSE\tSTATE\tCREATED\tRETIRED\tPUBLISHED_UNTIL');
    // No private part of any key, in either form.
    const privateParts = (await server.core.store.keys.list()).flatMap((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((m) => (k.privateJwk as Record<string, unknown>)[m]).filter((v): v is string => typeof v === 'string'));
    expect(privateParts.length).toBeGreaterThanOrEqual(6);
    for (const part of privateParts) expect(text.stdout + JSON.stringify(listed)).not.toContain(part);
  });
});

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
    const results = await Promise.all(asked.map((args) => runKalm('/nonexistent/kalm-help', args)));
    results.forEach((r, i) => {
      expect(r.code, asked[i]!.join(' ')).toBe(0);
      expect(r.stdout, asked[i]!.join(' ')).toMatch(new RegExp(`^Usage:\\n  kalm ${COMMANDS[i]}\\b[^\\n]*\\n(?:.*\\n)*\\n\\S`));
      expect(r.stderr).toBe('');
    });
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
  });
});
