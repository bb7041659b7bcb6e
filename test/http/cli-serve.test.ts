import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineEnv, ensureDatabaseFor } from '../helpers/engine.js';
import { freePort } from '../helpers/server.js';

const KALM = path.resolve(import.meta.dirname, '../../server/bin/kalm.js');
let dataDir: string;
const children = new Set<ChildProcess>();

/** `kalm serve` as a child process on `dataDir` (its file, or its database in the postgres project); resolves with its console output once it has finished starting. */
function serve(env: Record<string, string>, fresh: boolean): Promise<{ child: ChildProcess; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KALM, 'serve'], {
      env: { ...process.env, ...engineEnv(dataDir), LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      // The last line printed at start: the try-it hint on a fresh database, the verification URL otherwise.
      if (fresh ? stdout.includes('try: curl') : /verification\s+\S+\n/.test(stdout)) resolve({ child, stdout });
    });
    child.on('exit', (code) => reject(new Error(`kalm serve exited with ${code}: ${stderr}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-serve-'));
  await ensureDatabaseFor(dataDir);
});
afterAll(async () => {
  for (const child of children) await stop(child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kalm serve', () => {
  it('creates the tv-demo and cli-demo clients and the demo user on a fresh database, printing the password once', async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const first = await serve({ PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: publicUrl }, true);
    expect(first.stdout).toContain(`${publicUrl}/.well-known/oauth-authorization-server`);
    expect(first.stdout).toContain(`${publicUrl}/device`);
    const password = /password (\S+)/.exec(first.stdout)?.[1];
    expect(password).toEqual(expect.any(String));

    const meta = (await (await fetch(`${publicUrl}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(meta.issuer).toBe(publicUrl);
    const res = await fetch(`${publicUrl}/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=tv-demo',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { verification_uri: string }).verification_uri).toBe(`${publicUrl}/device`);
    // The authorization code demo client takes a loopback redirect on any port: /authorize sends the
    // browser to sign in rather than showing an error page.
    const authorize = new URL(`${publicUrl}/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: 'cli-demo',
      redirect_uri: 'http://127.0.0.1:53682/callback',
      scope: 'valuate:read',
      state: 'xyz',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const page = await fetch(authorize, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(new URL(page.headers.get('location')!, publicUrl).pathname).toBe('/signin');
    expect(await stop(first.child)).toBe(0);

    const second = await serve({ PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: publicUrl, LOG_LEVEL: 'debug' }, false);
    expect(second.stdout).not.toContain('password');
    // LOG_LEVEL=debug: one structured JSON line per request, path only.
    const logged = new Promise<Record<string, unknown>>((resolve) => {
      let buffer = '';
      second.child.stdout!.on('data', (d: Buffer) => {
        buffer += d;
        const line = buffer.split('\n').find((l) => l.includes('"path":"/healthz"'));
        if (line) resolve(JSON.parse(line) as Record<string, unknown>);
      });
    });
    expect((await fetch(`${publicUrl}/healthz`)).status).toBe(200);
    expect(await logged).toMatchObject({ level: 20, msg: 'request', method: 'GET', path: '/healthz', status: 200 });
    expect(await stop(second.child)).toBe(0);
  });
});
