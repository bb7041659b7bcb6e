/**
 * What the pending device code cache (store/sqlite/device-codes.ts) costs in memory:
 *
 *   node --expose-gc --import tsx bench/cache-memory.ts [--codes 100000] [--bound 100000]
 *
 * Inserts `--codes` pending device codes into a store on a temp SQLite database, measures RSS
 * and heap after a full garbage collection, reads every code by its hash as a first poll would
 * (which keeps it in the cache), measures again, then reads as many codes again, new ones, to
 * show the cache stays at `--bound` (DEVICE_CODE_CACHE_SIZE). Prints the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hashOrderedSecret, newOrderedSecret, systemRandom } from '../server/src/core/secrets.js';
import { readCache } from '../server/src/store/sqlite/read-cache.js';
import { DEVICE_CODE_CACHE } from '../server/src/store/sqlite/device-codes.js';
import { createSqliteStore } from '../server/src/store/sqlite/index.js';

const { values } = parseArgs({ options: { codes: { type: 'string', default: '100000' }, bound: { type: 'string', default: '100000' } } });
const codes = Number(values.codes);
const bound = Number(values.bound);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const dir = mkdtempSync(path.join(tmpdir(), 'kalm-cache-memory-'));
const store = createSqliteStore(dir, { deviceCodeCacheEntries: bound });
const now = Date.now();
await store.clients.create({
  id: 'bench', name: 'Benchmark TV', type: 'public', secretHash: null, grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
  scopes: ['valuate:read'], redirectUris: [], deviceCodeTtl: null, devicePollInterval: null, accessTokenAlg: null, ownerUserId: null, createdAt: now, requireDpop: false,
});

async function insertCodes(n: number, from: number): Promise<Buffer[]> {
  const hashes: Buffer[] = [];
  for (let i = 0; i < n; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - i) }, (_, j) => {
      const deviceCodeHash = hashOrderedSecret(newOrderedSecret(systemRandom, now)); // as device-flow.ts stores a code
      hashes.push(deviceCodeHash);
      const userCode = String(from + i + j).padStart(8, '0');
      return store.deviceCodes.insert({ deviceCodeHash, userCode, clientId: 'bench', scopes: ['valuate:read'], createdAt: now, expiresAt: now + 600_000,
        interval: 5, requestIp: '203.0.113.7', requestUserAgent: 'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36' }, now);
    });
    await Promise.all(batch);
  }
  return hashes;
}

function measure(): { rss: number; heap: number } {
  globalThis.gc!();
  globalThis.gc!();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

const MiB = 2 ** 20;
const cache = readCache(store.db, DEVICE_CODE_CACHE, bound);
const hashes = await insertCodes(codes, 0);
const before = measure();
for (const h of hashes) await store.deviceCodes.getByHash(h);
const after = measure();
console.log(`${cache.size} pending device codes cached: RSS +${((after.rss - before.rss) / MiB).toFixed(1)} MiB, heap +${((after.heap - before.heap) / MiB).toFixed(1)} MiB` +
  ` (${Math.round((after.heap - before.heap) / cache.size)} bytes of heap a code); RSS ${(after.rss / MiB).toFixed(0)} MiB in all`);
const more = await insertCodes(codes, codes);
for (const h of more) await store.deviceCodes.getByHash(h);
const full = measure();
console.log(`${codes} more polled: ${cache.size} cached (bound ${bound}), RSS ${(full.rss / MiB).toFixed(0)} MiB, heap ${(full.heap / MiB).toFixed(0)} MiB`);
store.close();
rmSync(dir, { recursive: true, force: true });
