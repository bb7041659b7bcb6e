import type { RawData } from 'ws';

/** What a client may say: exactly one message, its first, within the auth timeout. */
export type SubscribeRequest =
  /** A waiting device: tell me when my code is approved, denied or expires. */
  | { kind: 'device_code'; deviceCode: string }
  /**
   * A paired device: tell me when my grant is revoked. A DPoP-bound access token comes with
   * `dpop`, a proof of its key for `GET` on the push URL with `ath` (RFC 9449 §7.1).
   */
  | { kind: 'access_token'; accessToken: string; dpop?: string };

/** Status of a subscription, as told to the client. */
export type PushStatus = 'pending' | 'paired' | 'approved' | 'denied' | 'expired' | 'revoked';

/** Server → client messages. */
export type PushMessage = { type: 'subscribed'; status: PushStatus } | { type: 'status'; status: Exclude<PushStatus, 'pending' | 'paired'> };

// A device code is 43 base64url characters and a JWT a few hundred; the 4 KiB frame limit bounds both anyway.
const MAX_CREDENTIAL_LENGTH = 4096;

function credential(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CREDENTIAL_LENGTH ? value : undefined;
}

/**
 * Parse the subscribe message: a text frame holding a JSON object with `type: "subscribe"`
 * and exactly one of `device_code` or `access_token` (with it, optionally, a `dpop` proof). Unknown members are ignored, so a
 * later client may send more. Undefined means malformed.
 */
export function parseSubscribe(data: RawData, isBinary: boolean): SubscribeRequest | undefined {
  if (isBinary) return undefined;
  let message: unknown;
  try {
    const text = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    message = JSON.parse(text.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const { type, device_code: deviceCodeValue, access_token: accessTokenValue, dpop: dpopValue } = message as Record<string, unknown>;
  if (type !== 'subscribe') return undefined;
  const deviceCode = credential(deviceCodeValue);
  const accessToken = credential(accessTokenValue);
  if (deviceCodeValue !== undefined && accessTokenValue !== undefined) return undefined;
  if (deviceCode) return { kind: 'device_code', deviceCode };
  if (accessToken) {
    if (dpopValue === undefined) return { kind: 'access_token', accessToken };
    const dpop = credential(dpopValue);
    return dpop ? { kind: 'access_token', accessToken, dpop } : undefined;
  }
  return undefined;
}
