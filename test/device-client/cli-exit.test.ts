// Issue 17, part 1, as a user runs it: `kalm serve` as `npm start` runs it (its own process, a
// fresh data dir, the demo user), `kalm-device` as `npx kalm-device` resolves it, with a fresh
// HOME, and the person in real Chromium on /device. Every outcome must end the process on its
// own (the bin sets process.exitCode and lets the event loop drain), with its documented code.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenClaims } from '../../device-client/src/claims.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { KALM_BIN, kalmCli } from '../helpers/kalm-cli.js';
import { freePort } from '../helpers/server.js';
import { NPX_BIN, runCli, type CliRun } from './cli-process.js';

const root = mkdtempSync(path.join(tmpdir(), 'kalm-device-exit-'));
const dataDir = path.join(root, 'data');
let issuer: string;
let serverProcess: ChildProcess;
let demoPassword: string;
let terminal: string;
let shortLived: string;
let browser: TestBrowser;
let page: Page;

/** `kalm` administration commands on the server's database, as an operator runs them. */
async function kalm(...args: string[]): Promise<string> {
  return (await kalmCli(dataDir, ...args)).stdout;
}
/** A public device client with an id the operator chose, as `tv-demo` is. */
const createClient = async (id: string, ...extra: string[]) =>
  (JSON.parse(await kalm('client', 'create', '--name', 'Terminal', '--id', id, '--public', '--grant', 'device_code', '--grant', 'refresh_token', '--scope', 'valuate:read', '--json', ...extra)) as { client_id: string }).client_id;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  serverProcess = spawn(process.execPath, [KALM_BIN, 'serve'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: issuer, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let banner = '';
  await new Promise<void>((resolve, reject) => {
    serverProcess.stdout!.on('data', (chunk: Buffer) => {
      banner += chunk;
      // The last line of the first start's banner.
      if (banner.includes('try: curl')) resolve();
    });
    serverProcess.once('exit', (code) => reject(new Error(`kalm serve exited with ${code}: ${banner}`)));
  });
  demoPassword = /username demo\s+password (\S+)/.exec(banner)![1]!;
  // A 600 s polling interval (RFC 8628 §3.2): no poll comes during a test, so a login that ends
  // on a decision was told it by push.
  terminal = await createClient('terminal', '--interval', '600');
  // RFC 8628 expires_in of 1 s: the one outcome that takes real time, since neither process takes a clock.
  shortLived = await createClient('terminal-short', '--expires-in', '1');
  browser = await launchBrowser();
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  if (serverProcess && serverProcess.exitCode === null) {
    const exited = new Promise((resolve) => serverProcess.once('exit', resolve));
    serverProcess.kill('SIGTERM');
    await exited;
  }
  rmSync(root, { recursive: true, force: true });
});

/** A fresh HOME, as a new user has: the pairing goes to HOME/.config/kalm-device/pairing.json. */
function freshHome() {
  const home = mkdtempSync(path.join(root, 'home-'));
  const { XDG_CONFIG_HOME: _xdg, KALM_DEVICE_STORE: _store, ...env } = process.env;
  const configDir = path.join(home, '.config', 'kalm-device');
  return {
    configDir,
    pairingFile: path.join(configDir, 'pairing.json'),
    /** `kalm-device ARGS` as `npx kalm-device ARGS` runs it. */
    run: (...args: string[]) => runCli(NPX_BIN, args, { ...env, HOME: home }),
  };
}

/** Start `login` and wait until it shows the user code and waits. */
async function startLogin(home: ReturnType<typeof freshHome>, clientId = terminal): Promise<{ login: CliRun; userCode: string }> {
  const login = home.run('login', '--issuer', issuer, '--client-id', clientId, '--scope', 'valuate:read');
  const [, userCode] = await login.stdoutUntil(/Code: ([A-Z]{4}-[A-Z]{4})/);
  await login.stdoutUntil(/Waiting for approval/);
  return { login, userCode: userCode! };
}

/** The person types the code on /device (signing in as the demo user when asked) and reaches the consent page. */
async function openConsent(userCode: string) {
  await page.goto(`${issuer}/device`);
  await page.getByLabel('Code', { exact: true }).fill(userCode);
  await page.getByRole('button', { name: 'Continue' }).click();
  if (new URL(page.url()).pathname === '/signin') {
    await page.getByLabel('Username').fill('demo');
    await page.getByLabel('Password').fill(demoPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  expect(new URL(page.url()).pathname).toBe('/device/consent');
}

/**
 * A login that the person approves or denies (`button` on the consent page): resolves with its
 * exit code once it has ended (killed, and a failure, if still running `ms` after the click).
 */
async function decideOnPage(home: ReturnType<typeof freshHome>, button: 'Allow selected' | 'Deny', ms: number) {
  const { login, userCode } = await startLogin(home);
  await openConsent(userCode);
  await page.getByRole('button', { name: button }).click();
  return { login, code: await login.exitWithin(ms) };
}

/** What is in the pairing folder: nothing at all, or the pairing file alone (never a temp file left over). */
const pairingFolder = (home: ReturnType<typeof freshHome>) => (existsSync(home.configDir) ? readdirSync(home.configDir) : []);

describe('kalm-device as a process against kalm serve, approved in Chromium', () => {
  it('login exits 0 on the approval, told by push, and saves the pairing; token, token --force and logout end on their own', async () => {
    const home = freshHome();
    const { login, code } = await decideOnPage(home, 'Allow selected', 15_000);
    expect(new URL(page.url()).pathname).toBe('/device/done');
    expect(code).toBe(0);
    const { stdout } = login.output();
    expect(stdout).toMatch(/Signed in as \S+\./);
    expect(stdout).toContain('Granted scopes: valuate:read');
    expect(stdout).toContain(`Pairing saved to ${home.pairingFile}`);
    expect(statSync(home.pairingFile).mode & 0o777).toBe(0o600);
    expect(pairingFolder(home)).toEqual(['pairing.json']);

    const token = home.run('token');
    expect(await token.exitWithin(5_000)).toBe(0);
    const accessToken = token.output().stdout.trim();
    expect(accessTokenClaims(accessToken)).toMatchObject({ client_id: terminal, scope: 'valuate:read' });
    // A refresh over the network: the process still ends by itself.
    const refreshed = home.run('token', '--force');
    expect(await refreshed.exitWithin(5_000)).toBe(0);
    const fresh = refreshed.output().stdout.trim();
    expect(fresh).not.toBe(accessToken);
    expect(accessTokenClaims(fresh)).toMatchObject({ client_id: terminal, sub: accessTokenClaims(accessToken)!.sub });

    const logout = home.run('logout');
    expect(await logout.exitWithin(5_000)).toBe(0);
    expect(logout.output().stdout).toContain('Pairing forgotten.');
    expect(existsSync(home.pairingFile)).toBe(false);
    const notPaired = home.run('token');
    expect(await notPaired.exitWithin(5_000)).toBe(5);
    expect(notPaired.output().stderr).toContain('run kalm-device login');
  });

  it('login exits 3 on a denial on the page, told by push, and saves nothing', async () => {
    const home = freshHome();
    const { login, code } = await decideOnPage(home, 'Deny', 15_000);
    expect(code).toBe(3);
    expect(login.output().stderr).toContain('the request was denied on the verification page');
    expect(pairingFolder(home)).toEqual([]);
  });

  it('login exits 4 once the codes expire unapproved, and saves nothing', async () => {
    const home = freshHome();
    const { login } = await startLogin(home, shortLived);
    expect(login.output().stdout).toContain('expires in 0:01');
    expect(await login.exitWithin(4_000)).toBe(4);
    expect(login.output().stderr).toContain('the code expired before anyone approved it');
    expect(pairingFolder(home)).toEqual([]);
  });

  it('Ctrl-C ends login at once with 130, SIGTERM with 143, and neither leaves a pairing or a temp file', async () => {
    for (const [signal, code, said] of [
      ['SIGINT', 130, 'interrupted'],
      ['SIGTERM', 143, 'terminated'],
    ] as const) {
      const home = freshHome();
      const { login } = await startLogin(home);
      login.child.kill(signal);
      expect(await login.exitWithin(1_000)).toBe(code);
      // It ended itself with that code (a process killed by the signal has no exit code).
      expect(login.child.exitCode).toBe(code);
      expect(login.output().stderr).toContain(`kalm-device: ${said}`);
      expect(pairingFolder(home)).toEqual([]);
    }
  });
});
