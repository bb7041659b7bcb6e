/** The `decisionFeed` repository: what other server processes on the same database decided. */

/** Decisions and revocations committed to the database, read by the other server processes on it. */
export interface DecisionFeedRepository {
  /** Whether another connection committed anything since the last call. */
  changedElsewhere(): Promise<boolean>;
  /** Device codes decided at or after `since` (ms), oldest first. */
  decidedSince(since: number): Promise<Array<{ deviceCodeId: number; status: 'approved' | 'denied'; at: number }>>;
  /** Grants revoked at or after `since` (ms), oldest first. */
  revokedSince(since: number): Promise<Array<{ grantId: string; at: number }>>;
  /** The time of the latest decision or revocation in the database (0 when none). */
  latest(): Promise<number>;
  /**
   * Engines that are told of other instances' commits as they happen (PostgreSQL LISTEN/NOTIFY)
   * deliver each decision and revocation to `handlers.event` at once, and call
   * `handlers.reconnected` after a lost listening connection is back, so the caller reads what it
   * missed meanwhile (`decidedSince`/`revokedSince` from its cursor). Engines without it are
   * polled with `changedElsewhere`. Resolves once listening; the result stops it.
   */
  listen?(handlers: FeedHandlers): Promise<() => Promise<void>>;
}

/** A decision or revocation committed on the database, as `listen` delivers it. */
export type FeedEvent =
  | { kind: 'decided'; deviceCodeId: number; status: 'approved' | 'denied'; at: number }
  | { kind: 'revoked'; grantId: string; at: number };

export interface FeedHandlers {
  event(event: FeedEvent): void;
  /** The listening connection was lost and is back: something may have been missed. */
  reconnected(): void;
  /** The listening connection was lost (it is retried). */
  lost?(err: unknown): void;
}
