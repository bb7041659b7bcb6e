import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import type { AccessTokenClaims } from '../core/tokens.js';
import { pushEndpointUrl } from '../urls.js';
import type { DeviceEvent } from '../core/events.js';
import type { PushMetrics } from '../metrics/hooks.js';
import { PUSH_CLOSE } from './limits.js';
import type { SubscribeRequest } from './protocol.js';
import type { PushSession, SessionHost } from './session.js';

/** Sockets waiting on one device code, and the expiry watch held for them. */
interface CodeWaiters {
  sessions: Set<PushSession>;
  unwatch: () => void;
}

/** Routes core's device events to the sockets subscribed to them. */
export interface PushHub extends SessionHost {
  /** Sockets subscribed by device code and by grant (for metrics and tests). */
  counts(): { deviceCodes: number; grants: number };
  /** Stop listening to core's events. */
  stop(): void;
}

/**
 * The hub: one entry per waiting device code (with its expiry watch) and per paired
 * grant. It listens to `core.events` only, so it hears decisions taken on this
 * instance or, with a cross-instance bus, on any other. `metrics` hears which codes'
 * devices it told `approved` (kalm_approval_to_token_seconds{channel="push"}).
 */
export function createPushHub(core: Core, metrics?: PushMetrics): PushHub {
  const byDeviceCode = new Map<number, CodeWaiters>();
  const byGrant = new Map<string, Set<PushSession>>();
  const codeOf = new Map<PushSession, number>();
  const grantOf = new Map<PushSession, string>();

  function deliver(event: DeviceEvent) {
    if (event.type === 'revoked') {
      const sessions = byGrant.get(event.grantId);
      if (sessions) for (const session of [...sessions]) session.finish('revoked');
      return;
    }
    const waiters = byDeviceCode.get(event.deviceCodeId);
    if (!waiters) return;
    if (event.type === 'approved') metrics?.toldApproved(event.deviceCodeId);
    for (const session of [...waiters.sessions]) session.finish(event.type);
  }

  const unsubscribe = core.events.subscribe(deliver);

  async function subscribeDevice(session: PushSession, deviceCode: string) {
    const record = await core.deviceFlow.findByDeviceCode(deviceCode);
    if (session.ended) return;
    if (!record || record.status === 'redeemed' || record.expiresAt <= core.clock.now()) {
      session.end(PUSH_CLOSE.notFound, 'unknown, expired or used device code');
      return;
    }
    if (record.status !== 'pending') {
      if (record.status === 'approved') metrics?.toldApproved(record.id);
      session.subscribed(record.status);
      return;
    }
    let waiters = byDeviceCode.get(record.id);
    if (!waiters) {
      waiters = { sessions: new Set(), unwatch: core.expiry.watch(record.id, record.expiresAt) };
      byDeviceCode.set(record.id, waiters);
    }
    waiters.sessions.add(session);
    codeOf.set(session, record.id);
    session.subscribed('pending');
    // A decision published between the read above and the registration was not heard: read again.
    const again = await core.deviceFlow.findByDeviceCode(deviceCode);
    if (session.ended || !again || again.status === 'pending') return;
    if (again.status !== 'denied') metrics?.toldApproved(record.id);
    session.finish(again.status === 'denied' ? 'denied' : 'approved');
  }

  /**
   * RFC 9449 §7.1: a DPoP-bound token is good only with a proof of its key, made for `GET` on the
   * push URL and carrying the token's hash. The description of what failed, or undefined.
   */
  async function proofProblem(claims: AccessTokenClaims, accessToken: string, dpop: string | undefined): Promise<string | undefined> {
    const jkt = claims.cnf?.jkt;
    if (jkt === undefined) return undefined;
    if (dpop === undefined) return 'the access token is DPoP-bound: send a dpop proof';
    try {
      const proof = await core.dpop.checkProof({ proof: dpop, htm: 'GET', htu: pushEndpointUrl(core.config.publicUrl), accessToken, nonceRequired: false });
      return proof.jkt === jkt ? undefined : 'the DPoP proof is not of the key the access token is bound to';
    } catch (err) {
      // RFC 6455 §5.5: a close reason fits in 123 bytes; descriptions are ASCII.
      if (err instanceof OAuthError) return err.description.slice(0, 120);
      throw err;
    }
  }

  async function subscribePaired(session: PushSession, accessToken: string, dpop: string | undefined) {
    const claims = await core.tokens.verifyAccessToken(accessToken);
    if (session.ended) return;
    // Only a token of a grant can be revoked as a pairing (client credentials tokens have none).
    const grantId = claims?.grant_id;
    if (!grantId) {
      session.end(PUSH_CLOSE.notFound, 'invalid access token');
      return;
    }
    const problem = await proofProblem(claims, accessToken, dpop);
    if (session.ended) return;
    if (problem !== undefined) {
      session.end(PUSH_CLOSE.dpopProof, problem);
      return;
    }
    let sessions = byGrant.get(grantId);
    if (!sessions) byGrant.set(grantId, (sessions = new Set()));
    sessions.add(session);
    grantOf.set(session, grantId);
    session.subscribed('paired');
    // The subscription outlives this access token: it follows the grant, which refreshes renew.
    if (!session.ended && !(await core.tokens.verifyAccessToken(accessToken))) session.finish('revoked');
  }

  return {
    subscribe(session: PushSession, request: SubscribeRequest) {
      return request.kind === 'device_code' ? subscribeDevice(session, request.deviceCode) : subscribePaired(session, request.accessToken, request.dpop);
    },

    remove(session) {
      const id = codeOf.get(session);
      if (id !== undefined) {
        codeOf.delete(session);
        const waiters = byDeviceCode.get(id);
        if (waiters?.sessions.delete(session) && waiters.sessions.size === 0) {
          waiters.unwatch();
          byDeviceCode.delete(id);
        }
      }
      const grantId = grantOf.get(session);
      if (grantId !== undefined) {
        grantOf.delete(session);
        const sessions = byGrant.get(grantId);
        if (sessions?.delete(session) && sessions.size === 0) byGrant.delete(grantId);
      }
    },

    counts: () => ({ deviceCodes: codeOf.size, grants: grantOf.size }),

    stop() {
      unsubscribe();
    },
  };
}
