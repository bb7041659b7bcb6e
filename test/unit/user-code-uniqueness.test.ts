import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import type { OAuthError } from '../../server/src/core/errors.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import { systemRandom, type RandomSource } from '../../server/src/core/secrets.js';
import { httpStatus } from '../../server/src/http/oauth-errors.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { fakeClock } from '../helpers/clock.js';
import type { ClientRecord } from '../../server/src/store/port/index.js';

// User codes are drawn 16 bytes at a time; a queued block is handed to the next such draw.
const queued: number[][] = [];
const random: RandomSource = (size) => {
  const block = size === 16 ? queued.shift() : undefined;
  return block ? Uint8Array.from({ length: size }, () => block[0]!) : systemRandom(size);
};
const ALL_B = [0]; // every byte 0 → BBBBBBBB
const ALL_C = [1]; // every byte 1 → CCCCCCCC

const clock = fakeClock();
const store = createSqliteStore(':memory:');
let core: Core;
let client: ClientRecord;

beforeAll(async () => {
  core = await createCore({ config: defaultConfig({ dataDir: ':memory:', demo: false }), store, clock, random });
  ({ client } = await core.clients.create({ name: 'TV', type: 'public', grantTypes: [GRANT_TYPES.deviceCode], scopes: ['valuate:read'] }));
});
afterAll(() => store.close());

describe('user code uniqueness among live codes', () => {
  it('draws again when the user code belongs to another live request', async () => {
    queued.push(ALL_B);
    const first = await core.deviceFlow.authorize(client, undefined);
    expect(first.user_code).toBe('BBBB-BBBBB');
    queued.push(ALL_B, ALL_C);
    const second = await core.deviceFlow.authorize(client, undefined);
    expect(second.user_code).toBe('CCCC-CCCCB');
    expect((await core.deviceFlow.findPending('bbbbbbbb'))?.id).not.toBe((await core.deviceFlow.findPending('cccccccc'))?.id);
  });

  it('reuses the user code of a request that has expired', async () => {
    clock.advance(600_000);
    queued.push(ALL_B);
    const again = await core.deviceFlow.authorize(client, undefined);
    expect(again.user_code).toBe('BBBB-BBBBB');
    // The old device code is gone with its user code; the new one is pending.
    expect(await core.deviceFlow.findPending('BBBB-BBBBB')).toBeDefined();
  });

  it('answers temporarily_unavailable rather than loop when no free code can be drawn', async () => {
    queued.push(...Array.from({ length: 10 }, () => ALL_B));
    const refused = await core.deviceFlow.authorize(client, undefined).then(() => undefined, (err: unknown) => err as OAuthError);
    expect(refused).toMatchObject({ error: 'temporarily_unavailable' });
    // Core says what went wrong; HTTP answers it 503.
    expect(httpStatus(refused!)).toBe(503);
  });
});
