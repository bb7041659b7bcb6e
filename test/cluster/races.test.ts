/**
 * Issue 14 acceptance: the one-winner invariants hold across instances, because the database
 * decides them. Two in-process instances on one PostgreSQL database (two pools) race the same
 * redemption and the same refresh with `Promise.all`, one request on each.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { answerOf, deviceAuthorization, pollToken, postForm, refreshToken, startInstances, type Instances, type Tokens } from '../helpers/cluster.js';


// Generous: these tests start clusters, processes and brokers, on machines that may be busy.
const TIMEOUT = 90_000;
let cluster: PrivatePostgres;
let instances: Instances | undefined;

beforeAll(async () => {
  cluster = await startPostgres();
});
afterEach(async () => {
  await instances?.stop();
  instances = undefined;
});
afterAll(() => cluster?.dispose());

// Each race runs on this many codes (tokens) at once, so that the two requests of a race really
// overlap in the database for some of them.
const RACES = 12;

async function twoInstances() {
  instances = await startInstances(await cluster.createDatabase(), 2);
  const [a, b] = instances.servers as [NonNullable<Instances['servers'][0]>, NonNullable<Instances['servers'][0]>];
  const { clientId } = await a.createClient();
  const [rsId, rsSecret] = await (async () => {
    const rs = await a.createClient({ type: 'confidential', grantTypes: ['refresh_token'] });
    return [rs.clientId, rs.clientSecret!] as const;
  })();
  const introspect = async (url: string, token: string) => (await postForm(url, '/introspect', { token }, [rsId, rsSecret])).json() as Promise<Record<string, unknown>>;
  return { a, b, clientId, introspect };
}

/** An approved code, authorized on `a` and approved there for a user of its own. */
async function approvedCode(world: Awaited<ReturnType<typeof twoInstances>>) {
  const auth = await deviceAuthorization(world.a.url, world.clientId);
  const user = await world.a.createUser();
  await world.a.core.deviceFlow.approve(auth.user_code, user.id, ['valuate:read']);
  return { auth, user };
}

describe('races between two instances on one database', () => {
  it('redeems an approved code once: one poll gets the token set, the other invalid_grant', { timeout: TIMEOUT }, async () => {
    const world = await twoInstances();
    const codes = await Promise.all(Array.from({ length: RACES }, () => approvedCode(world)));
    // Half the races send to b first: the results stay in [a, b] order.
    const results = await Promise.all(
      codes.map(async ({ auth }, i) => {
        const order = i % 2 === 0 ? [world.a, world.b] : [world.b, world.a];
        const answers = await Promise.all(order.map(async (s) => answerOf(await pollToken(s.url, world.clientId, auth.device_code))));
        return i % 2 === 0 ? answers : answers.reverse();
      }),
    );
    for (const pair of results) {
      expect(pair.map((r) => r.status).sort(), JSON.stringify(pair)).toEqual([200, 400]);
      expect(pair.find((r) => r.status === 400)!.body.error).toBe('invalid_grant');
    }
    // Both instances won some races (the race is real on each side), and each code made one grant.
    const winners = results.map((pair) => pair.findIndex((r) => r.status === 200));
    console.log(`redemption races: instance a won ${winners.filter((w) => w === 0).length}, instance b ${winners.filter((w) => w === 1).length} of ${RACES}`);
    for (const { user } of codes) expect(await world.b.core.pairedDevices.list(user.id)).toHaveLength(1);
    // The winner's tokens are good on both instances.
    const tokens = results.map((pair) => pair.find((r) => r.status === 200)!.body as unknown as Tokens);
    for (const t of tokens) for (const s of [world.a, world.b]) expect((await world.introspect(s.url, t.access_token)).active).toBe(true);
  });

  it('rotates a refresh token once: one refresh wins, the loser is invalid_grant, and the reuse ends the family on both', { timeout: TIMEOUT }, async () => {
    const world = await twoInstances();
    const issued = await Promise.all(
      Array.from({ length: RACES }, async (_, i) => {
        const { auth } = await approvedCode(world);
        const res = await answerOf(await pollToken((i % 2 === 0 ? world.a : world.b).url, world.clientId, auth.device_code));
        expect(res.status).toBe(200);
        return res.body as unknown as Tokens;
      }),
    );
    // Half the races send to b first: the results stay in [a, b] order.
    const results = await Promise.all(
      issued.map(async (t, i) => {
        const order = i % 2 === 0 ? [world.a, world.b] : [world.b, world.a];
        const answers = await Promise.all(order.map(async (s) => answerOf(await refreshToken(s.url, world.clientId, t.refresh_token))));
        return i % 2 === 0 ? answers : answers.reverse();
      }),
    );
    for (const [i, pair] of results.entries()) {
      expect(pair.map((r) => r.status).sort(), JSON.stringify(pair)).toEqual([200, 400]);
      expect(pair.find((r) => r.status === 400)!.body.error).toBe('invalid_grant');
      const winner = pair.find((r) => r.status === 200)!.body as unknown as Tokens;
      expect(decodeJwt(winner.access_token).grant_id).toBe(decodeJwt(issued[i]!.access_token).grant_id);
      // The loser presented a token the winner had spent: the family is revoked, so the
      // winner's new refresh token is refused on either instance, and its access token is dead.
      for (const s of [world.a, world.b]) {
        expect((await answerOf(await refreshToken(s.url, world.clientId, winner.refresh_token))).body.error).toBe('invalid_grant');
        expect(await world.introspect(s.url, winner.access_token)).toEqual({ active: false });
      }
    }
    const winners = results.map((pair) => pair.findIndex((r) => r.status === 200));
    console.log(`refresh races: instance a won ${winners.filter((w) => w === 0).length}, instance b ${winners.filter((w) => w === 1).length} of ${RACES}`);
  });
});
