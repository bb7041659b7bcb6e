import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { createCore } from '../../server/src/core/index.js';
import { systemRandom, type RandomSource } from '../../server/src/core/secrets.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { fakeClock } from '../helpers/clock.js';

// Client ids are drawn 12 bytes at a time; a queued first byte is handed to the next such draw.
const queuedFirstBytes: number[] = [];
const draws: number[] = [];
const random: RandomSource = (size) => {
  const bytes = systemRandom(size);
  if (size === 12) {
    const first = queuedFirstBytes.shift();
    if (first !== undefined) bytes[0] = first;
    draws.push(bytes[0]!);
  }
  return bytes;
};

const store = createSqliteStore(':memory:');
afterAll(() => store.close());

describe('generated client ids', () => {
  it('never begin with "-", so a command line does not read one as an option', async () => {
    const core = await createCore({ config: defaultConfig({ dataDir: ':memory:', demo: false }), store, clock: fakeClock(), random });
    // 0xF8 = 0b111110_00: base64url letter 62, "-", first. 0xFC: letter 63, "_", is fine.
    queuedFirstBytes.push(0xf8, 0xf8, 0xfc);
    draws.length = 0;
    const { client } = await core.clients.create({ name: 'TV', type: 'public', grantTypes: [GRANT_TYPES.deviceCode], scopes: ['valuate:read'] });
    expect(draws).toEqual([0xf8, 0xf8, 0xfc]);
    expect(client.id).toMatch(/^_[A-Za-z0-9_-]{15}$/);
    expect((await core.clients.get(client.id))?.name).toBe('TV');
  });
});
