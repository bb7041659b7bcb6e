import type { Clock } from './clock.js';
import type { AuthenticatedUser } from './auth.js';
import { hashSecret, newSecret, type RandomSource } from './secrets.js';
import type { SessionRecord, SessionRepository } from '../store/port/index.js';

/** How long sessions live. A session ends at whichever limit comes first. */
export interface SessionPolicy {
  /** Idle timeout of a session nobody has signed into (it holds a pending user code at most). */
  anonymousIdleMs: number;
  /** Idle timeout of a signed-in session. */
  idleMs: number;
  /** Absolute lifetime after sign-in: the person signs in again after this, however active. */
  absoluteMs: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  anonymousIdleMs: 30 * 60_000,
  idleMs: 2 * 60 * 60_000,
  absoluteMs: 12 * 60 * 60_000,
};

/** A loaded session: the record, and the raw id only the cookie carries. */
export interface ActiveSession {
  /** The raw session id (256 bits). Never stored, never logged; only in the cookie. */
  id: string;
  record: SessionRecord;
}

/**
 * Server-side browser sessions. Ids are 256-bit random values; the store keeps
 * only their SHA-256, so a copy of the database opens no session.
 */
export interface SessionService {
  readonly policy: SessionPolicy;
  /** A new anonymous session. */
  start(data?: Record<string, unknown>): Promise<ActiveSession>;
  /** The live session with this raw id, its idle timeout extended; undefined when unknown or expired. */
  load(id: string): Promise<ActiveSession | undefined>;
  /** Write the session's data back. */
  save(session: ActiveSession): Promise<void>;
  /**
   * Sign `user` in: the session gets a NEW id (the old one stops working at once,
   * against session fixation) and keeps its data.
   */
  signIn(previous: ActiveSession | undefined, user: AuthenticatedUser): Promise<ActiveSession>;
  /** End a session. */
  end(session: ActiveSession): Promise<void>;
}

const TOUCH_EVERY_MS = 60_000;
const PURGE_EVERY_MS = 10 * 60_000;

export function createSessionService(deps: {
  sessions: SessionRepository;
  clock: Clock;
  random: RandomSource;
  policy?: Partial<SessionPolicy>;
}): SessionService {
  const policy: SessionPolicy = { ...DEFAULT_SESSION_POLICY, ...deps.policy };
  const { sessions, clock, random } = deps;
  let lastPurge = 0;

  function expiry(record: SessionRecord, now: number): number {
    if (record.userId === null) return now + policy.anonymousIdleMs;
    return Math.min(now + policy.idleMs, (record.authenticatedAt ?? now) + policy.absoluteMs);
  }

  async function purgeNow(now: number) {
    if (now - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = now;
    await sessions.purgeExpired(now);
  }

  return {
    policy,
    async start(data = {}) {
      const now = clock.now();
      await purgeNow(now);
      const id = newSecret(random, 32);
      const record: SessionRecord = {
        idHash: hashSecret(id),
        userId: null,
        username: null,
        data,
        createdAt: now,
        authenticatedAt: null,
        lastSeenAt: now,
        expiresAt: now + policy.anonymousIdleMs,
      };
      await sessions.create(record);
      return { id, record };
    },

    async load(id) {
      if (id.length === 0 || id.length > 128) return undefined;
      const now = clock.now();
      const record = await sessions.get(hashSecret(id), now);
      if (!record) return undefined;
      if (now - record.lastSeenAt >= TOUCH_EVERY_MS) {
        record.lastSeenAt = now;
        record.expiresAt = expiry(record, now);
        await sessions.update(record);
      }
      return { id, record };
    },

    async save(session) {
      await sessions.update(session.record);
    },

    async signIn(previous, user) {
      const now = clock.now();
      const id = newSecret(random, 32);
      const record: SessionRecord = {
        idHash: hashSecret(id),
        userId: user.id,
        username: user.username,
        data: previous ? { ...previous.record.data } : {},
        createdAt: previous?.record.createdAt ?? now,
        authenticatedAt: now,
        lastSeenAt: now,
        expiresAt: 0,
      };
      record.expiresAt = expiry(record, now);
      if (previous) await sessions.replace(previous.record.idHash, record);
      else await sessions.create(record);
      return { id, record };
    },

    async end(session) {
      await sessions.delete(session.record.idHash);
    },
  };
}
