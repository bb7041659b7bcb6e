// `kalm keys list` beside a running server: the keys the server signs with and publishes, read
// from its database. (The help of every command is in help.test.ts.)
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
