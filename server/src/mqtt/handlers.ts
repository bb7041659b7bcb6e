import type { JWK } from 'jose';
import { GRANT_TYPES } from '../core/clients.js';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import { hashSecret } from '../core/secrets.js';
import { formatUserCode } from '../core/user-codes.js';
import type { MqttRepository, MqttRequestView } from '../store/port/index.js';
import { encryptAnswer } from './answers.js';
import { parseJsonObject, readDevicePublicKey, readString } from './payloads.js';
import { decryptRefreshRequest, verifyTokenProof, type RememberProof } from './proofs.js';
import type { RequestAction } from './topics.js';

/** What the bridge publishes back: a JSON object or a compact JWE string. */
export interface Answer {
  result: 'accepted';
  body: Record<string, unknown> | string;
}

export type Handler = (rid: string, payload: Buffer) => Promise<Answer>;

export interface HandlerDeps {
  core: Core;
  repo: MqttRepository;
  /** Publish the current status of `rid` again, if decided (a repeated authorize asks for it). */
  repeatStatus(rid: string): void;
  /** The replay cache of token proofs (written behind; see write-behind.ts). */
  rememberTokenProof: RememberProof;
}

/**
 * One handler per request topic. Each returns the accepted answer or throws `OAuthError`,
 * which the bridge publishes on `…/rejected` as RFC 6749 §5.2 JSON.
 */
export function createHandlers({ core, repo, repeatStatus, rememberTokenProof }: HandlerDeps): Record<RequestAction, Handler> {
  function authorizeAnswer(view: MqttRequestView): Answer {
    const now = core.clock.now();
    if (view.expiresAt <= now) throw new OAuthError('expired_token', 'this rid\'s device code has expired; draw a new rid and start again');
    const userCode = formatUserCode(view.userCode);
    const verificationUri = `${core.config.publicUrl}/device`;
    return {
      result: 'accepted',
      body: {
        user_code: userCode,
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${userCode}`,
        expires_in: Math.ceil((view.expiresAt - now) / 1000),
        interval: view.interval,
      },
    };
  }

  return {
    // RFC 8628 §3.1–3.2 over MQTT: the device code is created and kept here, bound to the rid and key.
    async authorize(rid, payload) {
      const body = parseJsonObject(payload);
      const clientId = readString(body, 'client_id', 128);
      const scope = readString(body, 'scope', 1024, true);
      const device = await readDevicePublicKey(body.jwk);
      // A repeated authorize (QoS 1 redelivery, or a device that reconnected without an
      // answer) gets the same answer again; a different key or client cannot take the rid over.
      const repeated = (existing: MqttRequestView): Answer => {
        if (existing.jwkThumbprint !== device.thumbprint || existing.clientId !== clientId) {
          throw new OAuthError('invalid_request', 'this rid is already in use: draw a new random rid');
        }
        const answer = authorizeAnswer(existing);
        repeatStatus(rid);
        return answer;
      };
      const existing = await repo.get(rid);
      if (existing) return repeated(existing);
      // MQTT has no way to carry a client secret privately: only public clients (RFC 6749 §2.1).
      const client = await core.clients.authenticate({ clientId, method: 'none' });
      // RFC 9449 §5.2: such a client's tokens are all DPoP-bound; the bridge binds tokens to the
      // device's MQTT key instead and issues Bearer ones, so it must not serve the client at all.
      if (client.requireDpop === true) {
        throw new OAuthError('unauthorized_client', 'this client requires DPoP-bound tokens (RFC 9449), which the MQTT bridge does not issue: use the HTTP endpoints');
      }
      const held = await core.deviceFlow.authorizeHeld(client, scope, { userAgent: 'MQTT device' });
      const inserted = await repo.insert({
        rid,
        deviceCodeId: held.deviceCodeId,
        clientId: client.id,
        jwk: device.jwk,
        jwkThumbprint: device.thumbprint,
        createdAt: core.clock.now(),
      });
      if (!inserted) {
        // Bound meanwhile by the same request served elsewhere (another bridge of the share
        // group): that binding stands, and the code made here is never shown and expires unused.
        const winner = await repo.get(rid);
        if (winner) return repeated(winner);
        throw new OAuthError('invalid_request', 'this rid is already in use: draw a new random rid');
      }
      // core publishes `expired` when the code runs out undecided; the bridge's sweep covers
      // codes authorized before a restart, and notified_status keeps the two from telling twice.
      core.expiry.watch(held.deviceCodeId, core.clock.now() + held.response.expires_in * 1000);
      return { result: 'accepted', body: { ...held.response } };
    },

    // RFC 8628 §3.4–3.5 over MQTT: a signed proof stands for the device code the device never saw.
    async token(rid, payload) {
      const request = await repo.get(rid);
      if (!request) throw new OAuthError('invalid_grant', 'unknown rid: publish authorize first');
      await verifyTokenProof({ compact: payload.toString('utf8'), rid, jwk: request.jwk, remember: rememberTokenProof, now: core.clock.now() });
      // The code is spent; the answer was kept (readable only by the device) for a device that lost it.
      if (request.tokenAnswer) return { result: 'accepted', body: request.tokenAnswer };
      const client = await core.clients.get(request.clientId);
      if (!client) throw new OAuthError('invalid_client', 'the client of this rid no longer exists');
      let jwe: string | undefined;
      try {
        // Encrypted before the commit, and committed with the redemption in one transaction:
        // no crash can leave the code spent and the answer lost (nothing accepted is ever lost).
        await core.deviceFlow.pollById(client, request.deviceCodeId, async ({ deviceCodeId, grant, refresh, response, audit }) => {
          jwe = await encryptAnswer(response, request.jwk);
          return repo.redeemWithAnswer({ rid, deviceCodeId, grant, refresh, tokenAnswer: jwe, audit });
        });
      } catch (err) {
        // Spent meanwhile by another request of this rid (a repeat the device sent while another
        // bridge of the share group served the first): answer with the winner's stored answer,
        // the one token set.
        if (err instanceof OAuthError && err.error === 'invalid_grant') {
          const stored = (await repo.get(rid))?.tokenAnswer;
          if (stored) return { result: 'accepted', body: stored };
        }
        throw err;
      }
      return { result: 'accepted', body: jwe! };
    },

    // RFC 6749 §6 over MQTT: the refresh token travels encrypted to the server's `enc` key.
    async refresh(rid, payload) {
      const { key } = await core.keys.decryptionKey();
      // Refresh proofs are remembered durably at once: a replay after a crash would spend the token.
      const remember = (r: string, jti: string, expiresAt: number) => repo.rememberProof(r, jti, expiresAt);
      const request = await decryptRefreshRequest({ compact: payload.toString('utf8'), rid, key, remember, now: core.clock.now() });
      let answerKey: { jwk: JWK; thumbprint: string } | undefined;
      if (request.jwk !== undefined) {
        answerKey = await readDevicePublicKey(request.jwk);
      } else {
        const view = await repo.get(rid);
        answerKey = view && { jwk: view.jwk, thumbprint: view.jwkThumbprint };
        if (!answerKey) throw new OAuthError('invalid_request', 'include "jwk" (the key to encrypt the answer to) in the refresh request');
      }
      const client = await core.clients.authenticate({ clientId: request.client_id, method: 'none' });
      core.clients.assertGrant(client, GRANT_TYPES.refreshToken);
      // Asked again for an answer that was lost (a crash after the rotation committed, a lost
      // connection): the same refresh token, to the same key, while the token inside the kept
      // answer is still the live one. The same answer again, not a reuse revocation. Anyone
      // else holding the old token gets ciphertext only that key opens.
      const tokenHash = hashSecret(request.refresh_token);
      const kept = await repo.refreshAnswer(tokenHash, client.id, answerKey.thumbprint, core.clock.now());
      if (kept) return { result: 'accepted', body: kept };
      let jwe: string | undefined;
      // Encrypted before the commit and kept in the rotation's transaction (nothing accepted is ever lost).
      await core.tokens.refresh(client, request.refresh_token, request.scope, async ({ oldHash, next, now, response, audit }) => {
        jwe = await encryptAnswer(response, answerKey.jwk);
        return repo.rotateWithAnswer({ oldHash, next, now, jwkThumbprint: answerKey.thumbprint, answer: jwe, audit });
      });
      return { result: 'accepted', body: jwe! };
    },
  };
}
