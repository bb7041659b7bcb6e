/**
 * The README's resource-server recipe ("Resource server: verifying a DPoP-bound token"), run as
 * written: the code block is written to a module (its issuer pointed at the test server), served
 * behind a real HTTP listener, and called with DPoP-bound tokens and proofs, good and bad.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { dpopKey, proof, type DpopKey, type ProofOptions } from './dpop-proofs.js';
import type { Tokens } from './flow.js';

type Verify = (method: string, url: string, headers: Record<string, string | string[] | undefined>) => Promise<Record<string, unknown>>;

// Inside the repository, so the module resolves `jose` as a maker's project would from its own node_modules.
const moduleDir = path.resolve('node_modules/.cache/kalm-dpop-recipe');
let server: TestServer;
let api: Server;
let apiUrl: string;
let key: DpopKey;
let tokens: Tokens;

beforeAll(async () => {
  server = await startTestServer();
  // The recipe reads the real clock.
  server.clock.set(Date.now());
  const readme = readFileSync('README.md', 'utf8');
  const recipe = /### Resource server: verifying a DPoP-bound token[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1]!;
  mkdirSync(moduleDir, { recursive: true });
  const file = path.join(moduleDir, `verify-dpop-${process.pid}.mjs`);
  writeFileSync(file, recipe.replaceAll('http://localhost:8080', server.url));
  const { verifyDpopRequest } = (await import(pathToFileURL(file).href)) as { verifyDpopRequest: Verify };
  api = createServer((req, res) => {
    verifyDpopRequest(req.method!, `${apiUrl}${req.url}`, req.headers).then(
      (claims) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims)),
      (err: Error) => res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' }).end(err.message),
    );
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;

  key = await dpopKey();
  const { clientId } = await server.createClient();
  const flow = (await (await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' })).json()) as { device_code: string; user_code: string };
  await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
  const dpop = await proof(key, server.clock, `${server.url}/token`);
  tokens = (await (await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId }, { headers: { dpop } })).json()) as Tokens;
});
afterAll(async () => {
  await new Promise<void>((resolve) => api?.close(() => resolve()));
  await server?.stop();
  rmSync(moduleDir, { recursive: true, force: true });
});

function resourceProof(options: ProofOptions = {}, k = key, htu = `${apiUrl}/valuations`) {
  return proof(k, server.clock, htu, { htm: 'GET', accessToken: tokens.access_token, ...options });
}

async function call(dpop: string, authorization = `DPoP ${tokens.access_token}`, pathAndQuery = '/valuations?page=2') {
  const res = await fetch(`${apiUrl}${pathAndQuery}`, { headers: { authorization, dpop } });
  return { status: res.status, text: await res.text() };
}

describe('the README resource-server recipe', () => {
  it('accepts a bound token with a proof of its key for this request, once', async () => {
    const good = await resourceProof();
    const first = await call(good);
    expect(first.status, first.text).toBe(200);
    expect(JSON.parse(first.text)).toMatchObject({ cnf: { jkt: key.jkt }, scope: 'valuate:read' });
    expect(await call(good)).toEqual({ status: 401, text: 'the proof was used already' });
  });

  it('refuses a proof of another key, URL, method, token or age, and a Bearer scheme', async () => {
    expect((await call(await resourceProof({}, await dpopKey()))).text).toBe('the proof is of another key');
    expect((await call(await resourceProof({}, key, `${apiUrl}/other`))).text).toBe('the proof is for another URL');
    expect((await call(await resourceProof({ htm: 'POST' }))).text).toBe('the proof is for another method');
    expect((await call(await resourceProof({ accessToken: 'another token' }))).text).toBe('the proof is for another token');
    expect((await call(await resourceProof({ iat: Math.floor(Date.now() / 1000) - 120 }))).text).toBe('the proof is too old or too new');
    expect((await call(await resourceProof(), `Bearer ${tokens.access_token}`)).text).toBe('send Authorization: DPoP and one DPoP proof');
    expect((await call(await resourceProof({ header: { typ: 'JWT' } }))).status).toBe(401);
  });
});
