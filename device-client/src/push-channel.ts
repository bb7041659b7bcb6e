// The push channel's contract, shared by the channels (./push.ts, the node entry's `ws`
// fallback) and their users (`wait()` in ./device-authorization.ts, watchPairing in
// ./watch.ts): the statuses a channel reports and the subscribe function it is. Types only,
// so that ./push.ts can re-export watchPairing without ./watch.ts importing it back.

/**
 * Push statuses: `pending`/`paired` after subscribing; `approved`, `denied`,
 * `expired`, `revoked` as decisions happen.
 */
export type PushStatus = 'pending' | 'paired' | 'approved' | 'denied' | 'expired' | 'revoked';

/**
 * Open a subscription and report statuses until the returned function closes it.
 * `onEnd` runs once when the channel ends on its own (refused, dropped, or closed
 * by the server after a final status), with the close code when there is one
 * (4404: the server does not know the credential). A paired subscription of a
 * DPoP-bound access token carries its proof in `dpop` (RFC 9449 §7: `htm` GET, `htu` the
 * push URL, `ath`), added by `dpop.push(channel)` from `@kalm/device-client/dpop`. The
 * close function may return a promise that settles once the channel is fully closed:
 * `wait()` and `watchPairing`'s stop await it, so an app is left with nothing open once
 * they settle.
 */
export type PushSubscribe = (
  url: string,
  credential: { device_code: string } | { access_token: string; dpop?: string },
  onStatus: (status: PushStatus) => void,
  onEnd: (code?: number) => void,
) => () => void | Promise<void>;
