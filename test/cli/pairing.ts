/**
 * Paired devices for the CLI tests: a device flow over HTTP on the running test server, approved
 * through core as the verification page would for a given person, redeemed over HTTP.
 */
import { decodeJwt } from 'jose';
import { expect } from 'vitest';
import { authorize, poll, type Tokens } from '../http/flow.js';
import type { TestServer } from '../helpers/server.js';

export interface PairedDevice extends Tokens {
  grantId: string;
  refresh_token: string;
}

/** Pair a device of `clientId` to `userId` with `scopes`; its tokens and grant id. */
export async function pairDevice(server: TestServer, clientId: string, userId: string, scopes = ['valuate:read']): Promise<PairedDevice> {
  const flow = await authorize(server, { clientId }, scopes.join(' '));
  await server.core.deviceFlow.approve(flow.user_code, userId, scopes);
  const res = await poll(server, { clientId }, flow.device_code);
  expect(res.status, await res.clone().text()).toBe(200);
  const tokens = (await res.json()) as Tokens & { refresh_token: string };
  return { ...tokens, grantId: decodeJwt(tokens.access_token).grant_id as string };
}
