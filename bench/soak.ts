/**
 * Soak (issue 9): `npm run soak -- --minutes N [--rate 20] [--concurrency 8] [--seed S]
 * [--crash-flows 1000] [--kills 5]`. First the long crash-safety run (bench/crash.ts:
 * SIGKILLs under load, `--crash-flows 0` skips it), then mixed load against `kalm serve` in a child process for N minutes: device
 * authorizations, pending polls (some early, so slow_down too), approvals and denials
 * (through core on the same data dir, as the verification page would), redemptions,
 * refreshes, revocations, introspection, and push subscriptions of paired devices that
 * are told of their revocation. Prints the server's RSS every minute, the least-squares
 * slope of RSS over the run (MB/min, first minute left out as warm-up when the run is
 * 3 minutes or longer) and the error count. Exit code 1 on any error.
 * The acceptance run is 30 minutes: flat (< 1 MB/min) and zero errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { defaultConfig } from '../server/src/config.js';
import { GRANT_TYPES } from '../server/src/core/clients.js';
import { createCore } from '../server/src/core/index.js';
import { createSqliteStore } from '../server/src/store/sqlite/index.js';
import { startChildServer } from '../test/reliability/support/child-server.js';
import { runCrashScenario } from '../test/reliability/support/crash-run.js';
import { chooseSeed, seededRandom } from '../test/reliability/support/random.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '8' },
    seed: { type: 'string' },
    'crash-flows': { type: 'string', default: '1000' },
    kills: { type: 'string', default: '5' },
  },
});
const minutes = Number(values.minutes);
const flowsPerSecond = Number(values.rate);
const concurrency = Number(values.concurrency);
const seed = chooseSeed(values.seed);
const rng = seededRandom(seed);
const SAMPLE_EVERY_MS = 10_000;

let crashViolations = 0;
if (Number(values['crash-flows']) > 0) {
  console.log(
    `crash safety first: ${values['crash-flows']} flows, ${values.kills} kills, seed ${seed} ` +
      `(replay: node --import tsx bench/crash.ts --flows ${values['crash-flows']} --kills ${values.kills} --seed ${seed})`,
  );
  const crash = await runCrashScenario({ flows: Number(values['crash-flows']), kills: Number(values.kills), seed, log: (l) => console.log(`  ${l}`) });
  const { violations, ...figures } = crash;
  crashViolations = violations.length;
  console.log(JSON.stringify({ ...figures, violations: violations.length }));
  for (const v of violations.slice(0, 20)) console.log(`VIOLATION ${v}`);
}
const MB = 1024 * 1024;

const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-soak-'));
const config = defaultConfig({ dataDir, demo: false, publicUrl: 'http://127.0.0.1' });
const store = createSqliteStore(dataDir);
const core = await createCore({ config, store });
const SCOPES = ['valuate:read', 'billing:read'];
const { client } = await core.clients.create({
  name: 'Soak TV',
  type: 'public',
  grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
  scopes: SCOPES,
});
const backend = await core.clients.create({ name: 'Soak API', type: 'confidential', grantTypes: [GRANT_TYPES.clientCredentials], scopes: SCOPES });
const basic = `Basic ${Buffer.from(`${backend.client.id}:${backend.clientSecret}`).toString('base64')}`;
const user = await core.users.create({ username: 'soak', password: 'correct horse battery' });
const server = await startChildServer(dataDir);

console.log(`soak: ${minutes} min, ${flowsPerSecond} flows/s, concurrency ${concurrency}, seed ${seed}, server pid ${server.pid}`);

const counts: Record<string, number> = {};
const errors: string[] = [];
const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
const error = (what: string) => {
  count('errors');
  if (errors.length < 20) errors.push(what);
};

async function post(p: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  count('requests');
  if (res.status >= 500) error(`${p} answered ${res.status}: ${text}`);
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, string> };
}

const expect = (ok: boolean, what: string) => {
  if (!ok) error(what);
  return ok;
};

/**
 * A paired device watching for revocation over the push channel: `paired` resolves once
 * the server confirmed the subscription, `told` with whether `revoked` arrived before the close.
 */
function watchRevocation(accessToken: string): { paired: Promise<void>; told: Promise<boolean> } {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/push`);
  let told = false;
  let onPaired: () => void = () => {};
  const paired = new Promise<void>((resolve) => (onPaired = resolve));
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', access_token: accessToken })));
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; status: string };
    if (message.type === 'subscribed' && message.status === 'paired') onPaired();
    if (message.type === 'status' && message.status === 'revoked') told = true;
  });
  const done = new Promise<boolean>((resolve) => {
    ws.on('close', () => {
      onPaired();
      resolve(told);
    });
    ws.on('error', () => resolve(false));
  });
  return { paired, told: done };
}

async function flow(): Promise<void> {
  const r = rng.next();
  const auth = await post('/device_authorization', { client_id: client.id, scope: SCOPES.join(' ') });
  if (!expect(auth.status === 200, `device authorization answered ${auth.status}`)) return;
  count('flows');
  const poll = () => post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.body.device_code!, client_id: client.id });
  const first = await poll();
  expect(first.body.error === 'authorization_pending', `first poll answered ${JSON.stringify(first.body)}`);
  if (rng.next() < 0.3) {
    // Polled too early: slow_down is the right answer, not an error.
    const early = await poll();
    expect(early.body.error === 'slow_down', `early poll answered ${JSON.stringify(early.body)}`);
  }
  if (r < 0.1) return void count('left pending');
  if (r < 0.2) {
    await core.deviceFlow.deny(auth.body.user_code!, user.id);
    const denied = await poll();
    expect(denied.body.error === 'access_denied', `denied poll answered ${JSON.stringify(denied.body)}`);
    return void count('denied');
  }
  await core.deviceFlow.approve(auth.body.user_code!, user.id, SCOPES);
  count('approved');
  const tokens = await poll();
  if (!expect(tokens.status === 200, `redeem answered ${JSON.stringify(tokens.body)}`)) return;
  let { refresh_token: refresh, access_token: access } = tokens.body as { refresh_token: string; access_token: string };
  for (let i = rng.int(0, 4); i > 0; i--) {
    const next = await post('/token', { grant_type: 'refresh_token', refresh_token: refresh, client_id: client.id });
    if (!expect(next.status === 200, `refresh answered ${JSON.stringify(next.body)}`)) return;
    count('refreshed');
    ({ refresh_token: refresh, access_token: access } = next.body as { refresh_token: string; access_token: string });
  }
  if (rng.next() < 0.3) {
    const introspection = await post('/introspect', { token: access }, { authorization: basic });
    expect(introspection.body.active === (true as unknown as string), `introspection answered ${JSON.stringify(introspection.body)}`);
  }
  if (rng.next() < 0.4) {
    const pushed = rng.next() < 0.5 ? watchRevocation(access) : undefined;
    if (pushed) await pushed.paired;
    const revoked = await post('/revoke', { token: refresh, client_id: client.id });
    expect(revoked.status === 200, `revoke answered ${revoked.status}`);
    count('revoked');
    if (pushed) {
      expect(await pushed.told, 'a paired device was not told of its revocation over push');
      count('told by push');
    }
    const after = await post('/token', { grant_type: 'refresh_token', refresh_token: refresh, client_id: client.id });
    expect(after.body.error === 'invalid_grant', `refresh after revoke answered ${JSON.stringify(after.body)}`);
  }
}

const started = Date.now();
const endAt = started + minutes * 60_000;
const samples: Array<{ minute: number; rss: number }> = [];
const sample = () => samples.push({ minute: (Date.now() - started) / 60_000, rss: server.rss() });
sample();
const sampler = setInterval(sample, SAMPLE_EVERY_MS);
let lastPrinted = 0;
const printer = setInterval(() => {
  lastPrinted++;
  const latest = samples.at(-1)!;
  console.log(`minute ${lastPrinted}: rss ${(latest.rss / MB).toFixed(1)} MB, ${counts.flows ?? 0} flows, ${counts.requests ?? 0} requests, ${counts.errors ?? 0} errors`);
}, 60_000);

// Flows start at a steady rate (a bench may wait on timers; tests may not), at most `concurrency` at a time.
let running = 0;
let slot: (() => void) | undefined;
const intervalMs = 1000 / flowsPerSecond;
let nextStart = Date.now();
while (Date.now() < endAt) {
  if (running >= concurrency) {
    await new Promise<void>((resolve) => (slot = resolve));
    continue;
  }
  running++;
  flow()
    .catch((err: Error) => error(`flow failed: ${err.message}`))
    .finally(() => {
      running--;
      slot?.();
      slot = undefined;
    });
  nextStart += intervalMs;
  const wait = nextStart - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
while (running > 0) await new Promise<void>((resolve) => (slot = resolve));
clearInterval(sampler);
clearInterval(printer);
sample();

/** Least-squares slope of RSS (MB) over time (minutes). */
function slope(points: Array<{ minute: number; rss: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.minute, 0) / n;
  const my = points.reduce((s, p) => s + p.rss / MB, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.minute - mx) * (p.rss / MB - my);
    den += (p.minute - mx) ** 2;
  }
  return num / den;
}
const steady = minutes >= 3 ? samples.filter((s) => s.minute >= 1) : samples;
const result = {
  minutes,
  seed,
  rssStartMB: +(samples[0]!.rss / MB).toFixed(1),
  rssEndMB: +(samples.at(-1)!.rss / MB).toFixed(1),
  rssMaxMB: +(Math.max(...samples.map((s) => s.rss)) / MB).toFixed(1),
  slopeMBPerMin: +slope(steady).toFixed(3),
  slopeWindow: minutes >= 3 ? 'minute 1 to end' : 'whole run',
  samples: samples.length,
  ...counts,
  errors: counts.errors ?? 0,
  crashViolations,
};
console.log(JSON.stringify(result, null, 2));
for (const e of errors) console.log(`ERROR ${e}`);
await server.stop();
store.close();
rmSync(dataDir, { recursive: true, force: true });
console.log(`soak: slope ${result.slopeMBPerMin} MB/min, ${result.errors} errors, ${crashViolations} crash-safety violations`);
process.exitCode = result.errors === 0 && crashViolations === 0 ? 0 : 1;
