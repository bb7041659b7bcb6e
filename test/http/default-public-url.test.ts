import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { createLogger } from '../../server/src/logger.js';
import { startServer, type RunningServer } from '../../server/src/server.js';

// PORT=0 without PUBLIC_URL: every URL the server hands out must name the port it actually bound,
// not http://localhost:0.

const dataDirs: string[] = [];
function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kalm-port0-'));
  dataDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe('startServer with port 0 and no public URL', () => {
  let server: RunningServer;
  let config: Config;
  beforeAll(async () => {
    config = defaultConfig({ port: 0, host: '127.0.0.1', dataDir: tempDataDir(), demo: false });
    server = await startServer(config, { logger: createLogger('silent') });
  });
  afterAll(() => server.close());

  it('names the bound port as issuer and in every endpoint of the metadata', async () => {
    expect(server.port).toBeGreaterThan(0);
    const issuer = `http://localhost:${server.port}`;
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuer);
    expect(meta.token_endpoint).toBe(`${issuer}/token`);
    expect(meta.device_authorization_endpoint).toBe(`${issuer}/device_authorization`);
    expect(meta.device_push_endpoint).toBe(`ws://localhost:${server.port}/push`);
    expect(server.core.config.accessTokenAudience).toBe(issuer);
    // The caller's object is left as it was.
    expect(config.publicUrl).toBe('http://localhost:0');
  });

  it('answers a device authorization with verification and push URIs on the bound port', async () => {
    const { client } = await server.core.clients.create({ name: 'TV', type: 'public', grantTypes: [GRANT_TYPES.deviceCode], scopes: ['valuate:read'] });
    const res = await fetch(`${server.url}/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: client.id, scope: 'valuate:read' }),
    });
    const body = (await res.json()) as Record<string, string>;
    expect(body.verification_uri).toBe(`http://localhost:${server.port}/device`);
    expect(body.verification_uri_complete).toMatch(new RegExp(`^http://localhost:${server.port}/device\\?user_code=`));
    expect(body.push_uri).toBe(`ws://localhost:${server.port}/push`);
  });

  it('lets the TV page connect to the bound port in its CSP', async () => {
    const res = await fetch(`${server.url}/tv`);
    expect(res.headers.get('content-security-policy')).toContain(`connect-src 'self' http://localhost:${server.port} ws://localhost:${server.port}/push`);
  });
});

describe('startServer with an explicit public URL', () => {
  it('keeps it as given, whatever port is bound', async () => {
    const server = await startServer(defaultConfig({ port: 0, host: '127.0.0.1', dataDir: tempDataDir(), demo: false, publicUrl: 'https://auth.example.com' }), {
      logger: createLogger('silent'),
    });
    try {
      const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(meta.issuer).toBe('https://auth.example.com');
    } finally {
      await server.close();
    }
  });
});

describe('kalm serve with PORT=0 and no PUBLIC_URL', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  it('prints and serves the bound port as issuer', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), DEMO: '0', LOG_LEVEL: 'warn' };
    delete env.PUBLIC_URL;
    child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../server/bin/kalm.js'), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const banner = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child!.stderr!.on('data', (d: Buffer) => (stderr += d));
      child!.stdout!.on('data', (d: Buffer) => {
        stdout += d;
        if (stdout.includes('TV demo')) resolve(stdout);
      });
      child!.once('exit', (code) => reject(new Error(`kalm serve exited with ${code}: ${stderr}`)));
    });
    const [, listening, issuerPort] = /on http:\/\/127\.0\.0\.1:(\d+) \(issuer http:\/\/localhost:(\d+)\)/.exec(banner) ?? [];
    expect(Number(listening)).toBeGreaterThan(0);
    expect(issuerPort).toBe(listening);
    expect(banner).toContain(`verification  http://localhost:${listening}/device`);
    const meta = (await (await fetch(`http://127.0.0.1:${listening}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(meta.issuer).toBe(`http://localhost:${listening}`);
  });
});
