/**
 * Bytes written to disk per device authorization, from /proc/self/io (Linux):
 *
 *   node --import tsx bench/write-volume.ts [--per-turn 16] [--turns 300]
 *
 * Runs `--turns` rounds of `--per-turn` device authorizations started together (as requests
 * arriving in one event-loop turn would be) through the core of a server on a temp SQLite
 * database, and prints KiB written and write calls per authorization: the WAL frames of each
 * commit, the checkpoints and the group commit's fsyncs. `--per-turn 1` is one commit a request.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configFromEnv } from '../server/src/config.js';
import { GRANT_TYPES } from '../server/src/core/clients.js';
import { startServer } from '../server/src/server.js';

const { values } = parseArgs({ options: { 'per-turn': { type: 'string', default: '16' }, turns: { type: 'string', default: '300' } } });
const perTurn = Number(values['per-turn']);
const turns = Number(values.turns);

const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-write-volume-'));
const config = configFromEnv({ ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: 'http://127.0.0.1', LOG_LEVEL: 'warn', DEMO: '0' });
const server = await startServer(config);
const { core } = server;
const { client } = await core.clients.create({ id: 'bench', name: 'Benchmark TV', type: 'public', grantTypes: [GRANT_TYPES.deviceCode], scopes: ['valuate:read'] });

function io(): Record<string, number> {
  const lines = readFileSync('/proc/self/io', 'utf8').trim().split('\n');
  return Object.fromEntries(lines.map((line) => line.split(': ')).map(([k, v]) => [k, Number(v)]));
}

for (let i = 0; i < 200; i++) await core.deviceFlow.authorize(client, 'valuate:read'); // warm
const before = io();
const started = performance.now();
for (let t = 0; t < turns; t++) {
  await Promise.all(Array.from({ length: perTurn }, () => core.deviceFlow.authorize(client, 'valuate:read')));
}
const elapsed = performance.now() - started;
const after = io();
const n = perTurn * turns;
const per = (field: string) => (after[field]! - before[field]!) / n;
console.log(`${n} device authorizations, ${perTurn} a turn: ${(per('write_bytes') / 1024).toFixed(1)} KiB written to disk each` +
  ` (${(per('wchar') / 1024).toFixed(1)} KiB handed to write calls, ${per('syscw').toFixed(1)} write calls), ${((elapsed / n) * 1000).toFixed(0)} µs each`);
await server.close();
rmSync(dataDir, { recursive: true, force: true });
