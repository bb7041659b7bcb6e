import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventRecord } from '../../server/src/store/port/index.js';
import { kalmCli, KALM_BIN } from '../helpers/kalm-cli.js';
import { freePort, GRANT_TYPES } from '../helpers/server.js';
import { pairDevice, type FlowTarget } from './support.js';

// Nothing an answer confirmed is missing from the trail: the event is written in the flow's own
// transaction (a redemption, a rotation), durable before the answer by the same group commit.
// `kalm serve` is killed with SIGKILL the instant the answer of the step under test arrives,
// then started again on the same data dir.

const CLIENT_ID = 'tv-demo';
let dataDir: string;
let port: number;
let password: string;
let child: ChildProcess | undefined;

/** `kalm serve` on the data dir, with the demo user and client; resolves once it listens. */
function serve(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [KALM_BIN, 'serve'], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'warn', DEMO: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d));
    proc.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      password ??= /username \S+\s+password (\S+)/.exec(stdout)?.[1] as string;
      // The last line printed at start: the try-it hint on a fresh database, the TV demo URL otherwise.
      if (/try: curl|TV demo\s+\S+\n/.test(stdout) && password) {
        proc.removeAllListeners('exit');
        resolve(proc);
      }
    });
    proc.on('exit', (code) => reject(new Error(`kalm serve exited with ${code}: ${stderr}`)));
  });
}

/** SIGKILL, now, and wait for the exit. */
function kill9(proc: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  process.kill(proc.pid!, 'SIGKILL');
  return exited;
}

const target = (): FlowTarget => ({
  url: `http://127.0.0.1:${port}`,
  post: (p, form) => fetch(`http://127.0.0.1:${port}${p}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) }),
});

/** POST /token, and SIGKILL the server the instant its answer has arrived (before the body is even read). */
async function tokenThenKill(form: Record<string, string>): Promise<Record<string, string>> {
  const res = await target().post('/token', { ...form, client_id: CLIENT_ID });
  await kill9(child!);
  child = undefined;
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-audit-crash-'));
  port = await freePort();
});
afterAll(async () => {
  if (child) await kill9(child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('audit trail across kill -9', { timeout: 240_000 }, () => {
  it('keeps the event of every step whose answer was sent, when the server dies right after it', async () => {
    const grants: string[] = [];
    const refreshTokens: string[] = [];
    for (let round = 0; round < 3; round++) {
      child = await serve();
      const device = await pairDevice(target(), { clientId: CLIENT_ID, username: 'demo', password, scope: 'valuate:read', granted: ['valuate:read'], redeem: false });
      const tokens = await tokenThenKill({ grant_type: GRANT_TYPES.deviceCode, device_code: device.deviceCode });
      refreshTokens.push(tokens.refresh_token!);
    }
    for (const refreshToken of refreshTokens) {
      child = await serve();
      await tokenThenKill({ grant_type: GRANT_TYPES.refreshToken, refresh_token: refreshToken });
    }
    const events = JSON.parse((await kalmCli(dataDir, 'audit', '--client', CLIENT_ID, '--json')).stdout) as AuditEventRecord[];
    const of = (type: string) => events.filter((e) => e.type === type);
    expect(of('device.requested')).toHaveLength(3);
    expect(of('device.approved')).toHaveLength(3);
    const redeemed = of('device.redeemed');
    expect(redeemed).toHaveLength(3);
    grants.push(...redeemed.map((e) => e.grantId!));
    // Each refresh answered just before a kill is there, one per grant.
    expect(of('refresh.rotated').map((e) => e.grantId).sort()).toEqual([...grants].sort());
  });
});
