/**
 * The audit trail (issue 15): the flows record who did what, when, from which address, and
 * `kalm audit` and the admin dashboard read it back, newest first.
 *
 * Nothing that happened is missing from it. A flow's change and its event are one write: the
 * flow builds the event (`event()`) and hands it to the store method that makes the change,
 * which records it in the same transaction, only if the change took effect (AuditOnWrite in
 * store/port/audit.ts). No crash, on either engine, can commit the one without the other, and
 * the answer that confirms the change waits for both as for the change alone (group commit on
 * SQLite: no extra fsync). Events of no write of their own (a sign-in) are appended with
 * `record()`, which the caller awaits before it answers. A store that cannot be reached fails
 * the request (503, `temporarily_unavailable`) rather than letting it happen unrecorded.
 *
 * Never a secret in an event: ids, names, scopes and addresses only.
 */
import type { Clock } from './clock.js';
import { OAuthError } from './errors.js';
import type { AuditActorType, AuditDetail, AuditEventRecord, AuditRepository, NewAuditEvent } from '../store/port/index.js';

/** Every type of event, by family (`kalm audit --type device` lists the whole family). */
export const AUDIT_EVENT_TYPES = [
  // RFC 8628: a device asked, a person decided, the code ran out or was spent.
  'device.requested',
  'device.approved',
  'device.denied',
  'device.expired',
  'device.redeemed',
  // RFC 6749 §6 with rotation; RFC 9700 §4.14.2: a spent refresh token came back, its family was revoked.
  'refresh.rotated',
  'refresh.reuse_detected',
  // A grant (paired device, refresh-token family) revoked; `details.by`: owner, admin or app.
  'grant.revoked',
  'signin.succeeded',
  'signin.failed',
  'client.created',
  'client.updated',
  'client.deleted',
  'client.secret_rotated',
  // RFC 7591 dynamic registration.
  'client.registered',
  'keys.rotated',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Who acts, as the caller knows it. */
export type AuditActor =
  | { type: 'user'; id: string | null; name?: string | null }
  | { type: 'client'; id: string }
  | { type: 'cli'; name?: string | null }
  | { type: 'system' };

/** Who asks and from where, as a transport knows it (the pages, the protocol endpoints). */
export interface AuditContext {
  actor?: AuditActor | undefined;
  /** The client's address (`TRUST_PROXY` applied). */
  ip?: string | null | undefined;
}

/** What a flow records; `actor` defaults to the trail's (the server itself, or the CLI). */
export interface AuditInput {
  type: AuditEventType;
  actor?: AuditActor | undefined;
  userId?: string | null;
  username?: string | null;
  clientId?: string | null;
  grantId?: string | null;
  deviceCodeId?: number | null;
  ip?: string | null | undefined;
  scopes?: readonly string[] | null;
  details?: Record<string, AuditDetail>;
}

/** What the CLI and the dashboard ask for. */
export interface AuditQuery {
  /** Events at or after this time, ms. */
  since?: number;
  /** About or by this user (subject or actor). */
  userId?: string;
  /** About or by this username, as recorded (the account may be gone). */
  username?: string;
  clientId?: string;
  /** One type (`device.approved`) or a family (`device`). */
  type?: string;
  /** Default 50, at most AUDIT_MAX_LIMIT. */
  limit?: number;
}

export interface AuditTrail {
  /** The event's row as of now, for the store method whose write it records (see the header). */
  event(input: AuditInput): NewAuditEvent;
  /** Append an event of no write of its own; resolves once it is durable. */
  record(input: AuditInput): Promise<void>;
  /**
   * The newest events first. Codes that ran out undecided are recorded as `device.expired`
   * first, so the list is complete up to now.
   */
  recent(query?: AuditQuery): Promise<AuditEventRecord[]>;
  /** Record `device.expired` for the codes that ran out undecided by now (before their rows go: a client deleted, the purge). */
  recordExpired(): Promise<number>;
  /** The purge tick: record expired codes (before their rows are purged), then drop events older than the retention. */
  purge(): Promise<{ expired: number; purged: number }>;
}

const DEFAULT_LIMIT = 50;
/** The most events one `recent()` returns (`kalm audit --limit`). */
export const AUDIT_MAX_LIMIT = 10_000;
const MAX_IP_LENGTH = 64;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The types a `--type` value names: itself when it is a type, every type of a family for a
 * family name (`device`); undefined when it is neither.
 */
export function auditTypesOf(type: string): AuditEventType[] | undefined {
  if ((AUDIT_EVENT_TYPES as readonly string[]).includes(type)) return [type as AuditEventType];
  const family = AUDIT_EVENT_TYPES.filter((t) => t.startsWith(`${type}.`));
  return family.length > 0 ? family : undefined;
}

/** The family names (`device`, `refresh`, …), for help texts and errors. */
export function auditFamilies(): string[] {
  return [...new Set(AUDIT_EVENT_TYPES.map((t) => t.slice(0, t.indexOf('.'))))];
}

export function createAuditTrail(deps: {
  audit: AuditRepository;
  clock: Clock;
  /** `AUDIT_RETENTION_DAYS`. */
  retentionDays: () => number;
  /** The actor of events whose caller names none: the server itself, or `cli` in `kalm`. */
  actor?: AuditActor;
}): AuditTrail {
  const { audit, clock } = deps;
  const defaultActor = deps.actor ?? { type: 'system' };
  function toEvent(input: AuditInput): NewAuditEvent {
    const actor = input.actor ?? defaultActor;
    return {
      at: clock.now(),
      type: input.type,
      actorType: actor.type satisfies AuditActorType,
      actorId: actor.type === 'user' || actor.type === 'client' ? actor.id : null,
      actorName: actor.type === 'user' || actor.type === 'cli' ? (actor.name ?? null) : null,
      userId: input.userId ?? null,
      username: input.username ?? null,
      clientId: input.clientId ?? null,
      grantId: input.grantId ?? null,
      deviceCodeId: input.deviceCodeId ?? null,
      ip: input.ip ? input.ip.slice(0, MAX_IP_LENGTH) : null,
      scopes: input.scopes ? [...input.scopes] : null,
      details: input.details ?? {},
    };
  }

  return {
    event: toEvent,
    record: (input) => audit.append(toEvent(input)),
    async recent(query = {}) {
      const types = query.type === undefined ? undefined : auditTypesOf(query.type);
      if (query.type !== undefined && !types) {
        throw new OAuthError('invalid_request', `unknown audit event type "${query.type}"; one of ${[...auditFamilies(), ...AUDIT_EVENT_TYPES].join(', ')}`);
      }
      const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_LIMIT), 1), AUDIT_MAX_LIMIT);
      await audit.recordExpired(clock.now());
      return audit.list({
        ...(query.since !== undefined && { since: query.since }),
        ...(query.userId !== undefined && { userId: query.userId }),
        ...(query.username !== undefined && { username: query.username }),
        ...(query.clientId !== undefined && { clientId: query.clientId }),
        ...(types && { types }),
        limit,
      });
    },
    recordExpired: () => audit.recordExpired(clock.now()),
    async purge() {
      const now = clock.now();
      const expired = await audit.recordExpired(now);
      const purged = await audit.purgeBefore(now - deps.retentionDays() * DAY_MS);
      return { expired, purged };
    },
  };
}
