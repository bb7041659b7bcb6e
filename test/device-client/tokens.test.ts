import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getAccessToken,
  MemoryTokenStore,
  PairingLostError,
  startDeviceAuthorization,
  type Pairing,
  type TokenStore,
} from '../../device-client/src/index.js';
import { accessTokenClaims } from '../../device-client/src/claims.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manualTimers } from './manual-timers.js';

let server: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient({ name: 'Kitchen display' }));
});
afterAll(() => server.stop());

/** Pair a device through the real flow and return its store. */
async function pair(store: TokenStore = new MemoryTokenStore()): Promise<{ store: TokenStore; pairing: Pairing }> {
  const timers = manualTimers(server.clock);
  const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, store, push: false });
  const tokens = auth.wait();
  await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
  (await timers.next()).fire();
  return { store, pairing: await tokens };
}

/** A store whose `save` waits until the test lets it finish, and which logs what happens. */
class GatedStore extends MemoryTokenStore {
  readonly log: string[] = [];
  gate = false;
  #release: (() => void) | undefined;
  #onHold: (() => void) | undefined;
  override async save(pairing: Pairing) {
    if (this.gate) {
      await new Promise<void>((resolve) => {
        this.#release = resolve;
        this.#onHold?.();
      });
    }
    await super.save(pairing);
    this.log.push(`saved ${pairing.refreshToken}`);
  }
  /** Resolves once a save is being held. */
  held(): Promise<void> {
    return new Promise((resolve) => (this.#release ? resolve() : (this.#onHold = resolve)));
  }
  release() {
    this.#release?.();
  }
}

const refreshRequests = () => server.logLines().filter((l) => l.path === '/token').length;

describe('tokens', () => {
  it('returns the stored access token while it is fresh, without a request', async () => {
    const { store, pairing } = await pair();
    const before = refreshRequests();
    server.clock.advance(3_000_000); // 50 of 60 minutes
    expect(await getAccessToken(store, { timers: server.clock })).toBe(pairing.accessToken);
    expect(refreshRequests()).toBe(before);
  });

  it('refreshes shortly before expiry and saves the rotated refresh token before returning the new access token', async () => {
    const store = new GatedStore();
    const { pairing } = await pair(store);
    server.clock.advance(3_600_000 - 30_000); // 30 s left: inside the 60 s margin
    store.gate = true;
    let resolved = false;
    const next = getAccessToken(store, { timers: server.clock }).then((token) => {
      resolved = true;
      store.log.push('returned');
      return token;
    });
    await store.held();
    // The refresh was answered, but the save is held: the new access token must not be out yet.
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    expect(store.log).toEqual([`saved ${pairing.refreshToken}`]);
    store.release();
    const token = await next;
    const saved = (await store.load())!;
    expect(token).toBe(saved.accessToken);
    expect(token).not.toBe(pairing.accessToken);
    expect(saved.refreshToken).not.toBe(pairing.refreshToken);
    expect(store.log).toEqual([`saved ${pairing.refreshToken}`, `saved ${saved.refreshToken}`, 'returned']);
    expect(saved.expiresAt).toBe(server.clock.now() + 3_600_000);

    // The rotated token works for the next refresh.
    store.gate = false;
    const again = await getAccessToken(store, { timers: server.clock, force: true });
    expect(again).not.toBe(token);
  });

  it('sends one refresh for concurrent callers, so reuse detection never fires', async () => {
    const { store } = await pair();
    server.clock.advance(3_600_000);
    const before = refreshRequests();
    const tokens = await Promise.all([1, 2, 3].map(() => getAccessToken(store, { timers: server.clock })));
    expect(new Set(tokens).size).toBe(1);
    expect(refreshRequests()).toBe(before + 1);
    expect(await getAccessToken(store, { timers: server.clock })).toBe(tokens[0]);
  });

  it('reports invalid_grant on refresh as PairingLostError and clears the store', async () => {
    const { store, pairing } = await pair();
    const grantId = accessTokenClaims(pairing.accessToken)!.grant_id as string;
    await server.core.tokens.revokeGrant(grantId);
    const error = await getAccessToken(store, { timers: server.clock, force: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PairingLostError);
    expect(error).toMatchObject({ error: 'invalid_grant', status: 400 });
    expect(await store.load()).toBeUndefined();
  });

  it('reports a device that was never paired as PairingLostError', async () => {
    await expect(getAccessToken(new MemoryTokenStore())).rejects.toBeInstanceOf(PairingLostError);
  });
});
