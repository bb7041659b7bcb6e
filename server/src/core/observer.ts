import type { DeviceCodeRecord } from '../store/port/index.js';

/**
 * What the flows tell whoever watches them (the Prometheus metrics of `metrics/`), for things
 * that leave no event of their own on `core.events`: a device code issued or spent, the reuse of
 * a refresh token, the attempt limiter counting or refusing. Core never knows who listens.
 * Every method is called synchronously in the flow, after the step it reports has succeeded, so
 * an observer must be cheap and must not throw.
 */
export interface CoreObserver {
  /** RFC 8628 §3.2: a device code was issued (over HTTP or held by a transport). */
  deviceAuthorized(code: DeviceCodeRecord): void;
  /** A person decided a pending code, on this process. */
  deviceDecided(code: DeviceCodeRecord, decision: 'approved' | 'denied'): void;
  /**
   * An approved code was spent for its tokens at `at` (`code.decidedAt` says when it was
   * approved). `held`: by a transport that keeps the device code on the server (`pollById`).
   */
  deviceCodeRedeemed(code: DeviceCodeRecord, at: number, held: boolean): void;
  /** RFC 9700 §4.14.2: a spent refresh token came back, and its family was revoked. */
  refreshReuseDetected(clientId: string): void;
  /**
   * The attempt limiter counted a failure (`attemptFailed`) or refused an attempt that had to
   * wait (`attemptLimited`). `kind` is what the limiter keys begin with, up to their first `:`
   * (`device` for user code entry, `signin`: see http/pages/kit/attempt-keys.ts).
   */
  attemptFailed(kind: string): void;
  attemptLimited(kind: string): void;
}

/** The observer of a core nobody watches. */
export const NO_OBSERVER: CoreObserver = {
  deviceAuthorized() {},
  deviceDecided() {},
  deviceCodeRedeemed() {},
  refreshReuseDetected() {},
  attemptFailed() {},
  attemptLimited() {},
};
