import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultPairingFile, FileTokenStore } from '../../device-client/src/node/index.js';
import type { Pairing } from '../../device-client/src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kalm-device-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pairing: Pairing = { accessToken: 'at', tokenType: 'Bearer', expiresAt: 1, refreshToken: 'rt', scope: 'a', clientId: 'tv', tokenEndpoint: 'http://x/token' };

describe('FileTokenStore', () => {
  it('keeps the pairing in a file only its owner can read, replaced whole on save', async () => {
    const store = new FileTokenStore(path.join(dir, 'nested', 'pairing.json'));
    expect(await store.load()).toBeUndefined();
    await store.save(pairing);
    await store.save({ ...pairing, refreshToken: 'rt2' });
    expect(await store.load()).toEqual({ ...pairing, refreshToken: 'rt2' });
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(store.file)).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.dirname(store.file))).toEqual(['pairing.json']);
    await store.clear();
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it('defaults to $KALM_DEVICE_STORE, else the user config dir', () => {
    expect(defaultPairingFile({ KALM_DEVICE_STORE: 'x.json' })).toBe(path.resolve('x.json'));
    if (process.platform === 'linux') expect(defaultPairingFile({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/kalm-device/pairing.json');
  });
});
