/**
 * The waiting devices of bench/push-latency.ts, in their own process: each asks for a
 * device code, opens the push socket, subscribes, and on `approved` redeems at /token
 * and verifies the access token against the JWKS — then reports that it holds it.
 */
import { Agent, request } from 'node:http';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import WebSocket from 'ws';
import type { FromClients, ToClients } from './protocol.js';

const send = (message: FromClients) => process.send!(message);
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface Device {
  deviceCode: string;
  userCode: string;
  pushUri: string;
}

/** One HTTP exchange over `agent`, so the set-up connections can be closed before the memory baseline. */
function call(agent: Agent, url: string, form?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const body = form && new URLSearchParams(form).toString();
    const req = request(url, {
      agent,
      method: form ? 'POST' : 'GET',
      headers: form ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body!) } : {},
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.end(body);
  });
}

/** Run `task(i)` for i in [0, count) with `concurrency` at a time; resolves to the number that threw. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>, onDone?: (done: number) => void): Promise<number> {
  let next = 0;
  let done = 0;
  let failures = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      try {
        await task(i);
        onDone?.(++done);
      } catch {
        failures++;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

let url = '';
let clientId = '';
let devices: Array<Device | undefined> = [];
const sockets: WebSocket[] = [];
// The devices' own connection for /token after approval.
const tokenAgent = new Agent({ keepAlive: true, maxSockets: 16 });
let jwks: ReturnType<typeof createLocalJWKSet> | undefined;

async function redeem(index: number, device: Device) {
  const t0 = performance.now();
  try {
    const { status, body } = await call(tokenAgent, `${url}/token`, { grant_type: DEVICE_CODE_GRANT, device_code: device.deviceCode, client_id: clientId });
    if (typeof body.access_token !== 'string') throw new Error(`token endpoint answered ${status} ${String(body.error)}`);
    const t1 = performance.now();
    await jwtVerify(body.access_token, jwks!, { issuer: url, typ: 'at+jwt' });
    const t2 = performance.now();
    send({ type: 'done', index, tokenMs: t2 - t0, verifyMs: t2 - t1 });
  } catch (err) {
    send({ type: 'done', index, tokenMs: performance.now() - t0, verifyMs: 0, error: String(err) });
  }
}

async function authorize(message: Extract<ToClients, { type: 'authorize' }>) {
  const started = performance.now();
  ({ url, clientId } = message);
  const agent = new Agent({ keepAlive: true, maxSockets: message.concurrency });
  jwks = createLocalJWKSet((await call(agent, `${url}/jwks.json`)).body as unknown as JSONWebKeySet);
  devices = new Array<Device | undefined>(message.devices);
  const failures = await pool(message.devices, message.concurrency, async (i) => {
    const { status, body } = await call(agent, `${url}/device_authorization`, { client_id: clientId, scope: 'valuate:read' });
    if (typeof body.push_uri !== 'string') throw new Error(`device authorization answered ${status}`);
    devices[i] = { deviceCode: String(body.device_code), userCode: String(body.user_code), pushUri: body.push_uri };
  });
  agent.destroy();
  send({ type: 'authorized', seconds: (performance.now() - started) / 1000, failures });
}

function subscribeOne(index: number): Promise<void> {
  const device = devices[index];
  if (!device) return Promise.reject(new Error('no device code'));
  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(device.pushUri, { perMessageDeflate: false });
    sockets.push(ws);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', device_code: device.deviceCode })));
    ws.once('error', reject);
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; status: string };
      if (message.type === 'subscribed' && message.status === 'pending') resolve();
      else if (message.status === 'approved') void redeem(index, device);
      else reject(new Error(`unexpected ${message.type} ${message.status}`));
    });
    ws.once('close', (code) => reject(new Error(`closed with ${code} before subscribing`)));
  });
}

async function subscribe(concurrency: number) {
  const started = performance.now();
  const waiting = new Array<string>(devices.length);
  const failures = await pool(
    devices.length,
    concurrency,
    async (i) => {
      await subscribeOne(i);
      // Only a device that is really waiting is offered for approval.
      waiting[i] = devices[i]!.userCode;
    },
    (done) => {
      if (done % 1000 === 0) send({ type: 'progress', connected: done });
    },
  );
  send({ type: 'connected', userCodes: waiting, seconds: (performance.now() - started) / 1000, failures });
}

process.on('message', (message: ToClients) => {
  if (message.type === 'authorize') void authorize(message);
  else if (message.type === 'subscribe') void subscribe(message.concurrency);
});
process.on('disconnect', () => process.exit(0));
