import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { NPX_BIN, runCli } from './cli-process.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kalm-device-cli-'));
let server: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  // One-second interval: the CLI polls with real time.
  ({ clientId } = await server.createClient({ name: 'Terminal', devicePollInterval: 1 }));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Run kalm-device with its pairing in the test's folder. */
const run = (args: string[]) => runCli(NPX_BIN, args, { ...process.env, KALM_DEVICE_STORE: path.join(dir, 'pairing.json') });

describe('kalm-device CLI', () => {
  it('prints the QR code and the user code, exits 0 after approval and stores the pairing; token prints a fresh token', async () => {
    const login = run(['login', '--issuer', server.url, '--client-id', clientId, '--scope', 'valuate:read billing:read']);
    const [, userCode] = await login.stdoutUntil(/Code: ([A-Z]{4}-[A-Z]{5})/);
    const user = await server.createUser();
    await server.core.deviceFlow.approve(userCode!, user.id, ['billing:read']);
    expect(await login.exit).toBe(0);
    const { stdout } = login.output();
    expect(stdout).toMatch(/[▀▄█]{20,}/); // the QR block
    expect(stdout).toContain(`${server.url}/device`);
    expect(stdout).toMatch(/█{4}/); // the big user code
    expect(stdout).toMatch(/expires in 10:00/);
    expect(stdout).toContain(`Signed in as ${user.id}`);
    expect(stdout).toContain('Granted scopes: billing:read');
    expect(stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/); // no JWT unless --print-tokens
    const file = path.join(dir, 'pairing.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const token = run(['token']);
    expect(await token.exit).toBe(0);
    const jwt = token.output().stdout.trim();
    expect(jwt).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await server.core.tokens.verifyAccessToken(jwt)).toMatchObject({ sub: user.id, scope: 'billing:read' });
  });

  it('exits 3 when the person denies', async () => {
    const login = run(['login', '--issuer', server.url, '--client-id', clientId, '--store', path.join(dir, 'denied.json')]);
    const [, userCode] = await login.stdoutUntil(/Code: ([A-Z]{4}-[A-Z]{5})/);
    await server.core.deviceFlow.deny(userCode!);
    expect(await login.exit).toBe(3);
    expect(login.output().stderr).toContain('denied');
  });

  it('exits 1 with the OAuth error for an unknown client, 2 for bad usage, 5 from token when not paired, 1 from logout that cannot delete', async () => {
    const unknown = run(['login', '--issuer', server.url, '--client-id', 'nobody']);
    const usage = run(['login']);
    const notPaired = run(['token', '--store', path.join(dir, 'none.json')]);
    // A folder where the pairing file should be: unlink fails (EISDIR), for root too.
    const undeletable = run(['logout', '--store', dir]);
    expect(await Promise.all([unknown.exit, usage.exit, notPaired.exit, undeletable.exit])).toEqual([1, 2, 5, 1]);
    expect(unknown.output().stderr).toContain('invalid_client');
    expect(undeletable.output().stderr).toMatch(/^kalm-device: could not forget the pairing: \w+/);
  });
});
