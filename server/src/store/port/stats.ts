/**
 * Aggregates for the admin dashboard (`/admin`): the `stats` repository. Read-only; every window
 * is `[from, to)` in ms, passed in from core's clock (an engine never reads its own clock), and
 * every count is computed by the database. Device flows are counted over the live device codes
 * and the history their purge leaves (migration 010), so a window may reach 48 h back.
 */

/** What happened to device flows in one minute. Times are when each thing happened. */
export interface FlowMinute {
  /** Start of the minute, ms (minutes are counted from the window's start). */
  minute: number;
  /** Device authorizations requested (RFC 8628 §3.1). */
  requested: number;
  approved: number;
  denied: number;
  /** Codes that reached their expiry undecided. */
  expired: number;
}

/** What happened to device flows in a window: `FlowMinute` without the minute. */
export type FlowCounts = Omit<FlowMinute, 'minute'>;

/** Approvals and denials of one client's device flows in a window. */
export interface ClientDecisions {
  clientId: string;
  /** null when the client has since been deleted. */
  clientName: string | null;
  approved: number;
  denied: number;
}

/** The live paired devices (device grants not revoked) of one client. */
export interface ClientDevices {
  clientId: string;
  clientName: string;
  devices: number;
}

/** Keys of one limiter (`device` code entry, `signin`) held back by the attempt limiter. */
export interface LimitedKeys {
  limiter: string;
  keys: number;
}

export interface StatsRepository {
  /**
   * Device flows over `[from, to)` per minute counted from `from` (`minute` is `from` + k·60 s),
   * grouped in the database; summed, they are `flowCounts`. Only minutes in which
   * something happened are returned, oldest first. `to` must not be later than now: an
   * undecided code counts as expired at its `expires_at`.
   */
  flowsPerMinute(from: number, to: number): Promise<FlowMinute[]>;
  /** The same over `[from, to)` as one total (counted from the indexes, no grouping). */
  flowCounts(from: number, to: number): Promise<FlowCounts>;
  /** Median time from request to approval of the codes approved in `[from, to)`; null when none. */
  medianApprovalMs(from: number, to: number): Promise<number | null>;
  /** Approvals and denials per client in `[from, to)`, the most decisions first. */
  decisionsByClient(from: number, to: number): Promise<ClientDecisions[]>;
  /** Live grants (not revoked) per client that `origin` created (the device code grant URN: paired devices), the most first. */
  devicesByClient(origin: string): Promise<ClientDevices[]>;
  /**
   * Per limiter (the key's prefix before `:`), the keys (addresses, browsers) whose last failure
   * fell in `[from, to)` with at least `limitedAfter` failures counted: each of them had to wait.
   */
  limitedKeys(from: number, to: number, limitedAfter: number): Promise<LimitedKeys[]>;
}
