/** Browser sessions of the verification pages: the record and the `sessions` repository. */

/** A browser session of the verification pages; looked up by the SHA-256 of its id. */
export interface SessionRecord {
  idHash: Buffer;
  userId: string | null;
  username: string | null;
  /** Small JSON state kept server-side (the pending user code, the last outcome, ...). */
  data: Record<string, unknown>;
  createdAt: number;
  authenticatedAt: number | null;
  lastSeenAt: number;
  expiresAt: number;
}

export interface SessionRepository {
  create(session: SessionRecord): Promise<void>;
  /** The session unless it has expired at `now`. */
  get(idHash: Buffer, now: number): Promise<SessionRecord | undefined>;
  update(session: SessionRecord): Promise<void>;
  /** Swap a session for one with a new id in one transaction (rotation at sign-in). */
  replace(oldHash: Buffer, next: SessionRecord): Promise<void>;
  delete(idHash: Buffer): Promise<void>;
  purgeExpired(now: number): Promise<number>;
}
