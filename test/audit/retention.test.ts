import { afterEach, describe, expect, it, vi } from 'vitest';
import { configFromEnv } from '../../server/src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { devicePost } from './support.js';

// AUDIT_RETENTION_DAYS on the injected clock, through the server's own purge timer: the test
// fakes only setInterval (the timer is every 10 minutes) and waits for the purge that timer ran.

const DAY = 86_400_000;
const PURGE_EVERY_MS = 10 * 60_000;
let server: TestServer | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await server?.stop();
  server = undefined;
});

/** One tick of the purge timer, awaited: the audit purge's result, once the device code purge after it is done too. */
async function purgeTick(s: TestServer) {
  const purge = vi.spyOn(s.core.audit, 'purge');
  const dropCodes = vi.spyOn(s.core.store.deviceCodes, 'purgeExpired');
  vi.advanceTimersByTime(PURGE_EVERY_MS);
  expect(purge).toHaveBeenCalledTimes(1);
  const result = await purge.mock.results[0]!.value;
  // The rows go only after the audit purge has recorded their expiry (server.ts chains the two).
  expect(dropCodes).not.toHaveBeenCalled();
  await new Promise((resolve) => setImmediate(resolve));
  expect(dropCodes).toHaveBeenCalledTimes(1);
  await dropCodes.mock.results[0]!.value;
  purge.mockRestore();
  dropCodes.mockRestore();
  return result as { expired: number; purged: number };
}

describe('audit retention', () => {
  it('deletes events older than AUDIT_RETENTION_DAYS on the purge timer, and keeps the rest', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    server = await startTestServer({ config: { auditRetentionDays: 2 } });
    const start = server.clock.now();
    const old = (await server.createClient({ name: 'Old' })).clientId;
    server.clock.advance(DAY);
    const recent = (await server.createClient({ name: 'Recent' })).clientId;
    server.clock.set(start + 2 * DAY + 1);
    expect((await purgeTick(server)).purged).toBe(1);
    const left = await server.core.audit.recent();
    expect(left.map((e) => [e.type, e.clientId])).toEqual([['client.created', recent]]);
    expect(left.some((e) => e.clientId === old)).toBe(false);
  });

  it('records a code that ran out undecided as expired before the purge drops its row', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    server = await startTestServer();
    const { clientId } = await server.createClient();
    const asked = server.clock.now();
    expect((await devicePost(server, '/device_authorization', { client_id: clientId, scope: 'valuate:read' })).status).toBe(200);
    const [requested] = await server.core.audit.recent({ type: 'device.requested' });
    // The device code row is purged an hour after the code's 10 minutes ran out.
    server.clock.advance(600_000 + 3_600_000 + 1);
    expect((await purgeTick(server)).expired).toBe(1);
    const expired = await server.core.audit.recent({ type: 'device.expired' });
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ actorType: 'system', clientId, deviceCodeId: requested!.deviceCodeId, at: asked + 600_000, scopes: ['valuate:read'] });
    // The row is gone now, its expiry kept; a later tick records nothing twice.
    expect(await server.core.store.deviceCodes.getById(requested!.deviceCodeId!)).toBeUndefined();
    expect((await purgeTick(server)).expired).toBe(0);
    expect(await server.core.audit.recent({ type: 'device.expired' })).toHaveLength(1);
  });

  it('reads AUDIT_RETENTION_DAYS from the environment, 90 days by default, and refuses nonsense', () => {
    expect(configFromEnv({}).auditRetentionDays).toBe(90);
    expect(configFromEnv({ AUDIT_RETENTION_DAYS: '30' }).auditRetentionDays).toBe(30);
    expect(() => configFromEnv({ AUDIT_RETENTION_DAYS: '0' })).toThrow('AUDIT_RETENTION_DAYS must be an integer from 1 to 36500, got "0"');
    expect(() => configFromEnv({ AUDIT_RETENTION_DAYS: 'forever' })).toThrow('AUDIT_RETENTION_DAYS must be an integer');
  });
});
