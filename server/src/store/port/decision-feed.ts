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
}
