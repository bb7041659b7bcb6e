/**
 * The audit trail (issue 15): an append-only record of who did what, when, from which address
 * (the `audit` repository). Rows are only ever inserted, read, and deleted by age (the
 * retention purge). Never a secret in it: no device or user code, token, client secret,
 * password, nor a hash of one; ids (user, client, grant, device code row) and addresses only.
 */

/** Who acted: a person (user id, username), a client (client id), the operator's CLI, or the server itself. */
export type AuditActorType = 'user' | 'client' | 'cli' | 'system';

/** A value of an event's `details`: plain JSON, never a secret. */
export type AuditDetail = string | number | boolean | null | readonly string[];

export interface NewAuditEvent {
  /** When it happened, ms since the epoch (core's clock). */
  at: number;
  /** What happened: `device.approved`, `signin.failed`, … (see AUDIT_EVENT_TYPES in core/audit.ts). */
  type: string;
  actorType: AuditActorType;
  /** The user id or client id of the actor; null for `cli` and `system`. */
  actorId: string | null;
  /**
   * The actor's name: a user's username (filled in from `users` when null and the user is a
   * local account), the operating system account that ran the CLI; null otherwise.
   */
  actorName: string | null;
  /** The person the event is about (who approved, whose device, who signed in). */
  userId: string | null;
  /** Their username; filled in from `users` when null and the user is a local account. */
  username: string | null;
  clientId: string | null;
  /** The grant (refresh-token family, a paired device) concerned. */
  grantId: string | null;
  /** The device code's row id (never the code): links the events of one device flow. */
  deviceCodeId: number | null;
  /** The address the action came from, where the flow knows it. */
  ip: string | null;
  /** Scopes requested, approved (the subset a person ticked) or issued, as the type says. */
  scopes: string[] | null;
  /** What else the type records (`by` of a revocation, the fields a client update changed, …). */
  details: Record<string, AuditDetail>;
}

export interface AuditEventRecord extends NewAuditEvent {
  /** Increasing in the order events were appended. */
  id: number;
}

/** What `list` returns: every given filter must match. */
export interface AuditFilter {
  /** Events at or after this time, ms. */
  since?: number;
  /** Events about this user or done by them (subject or actor). */
  userId?: string;
  /** Events about or by the user of this username (as recorded: works after the account is gone). */
  username?: string;
  clientId?: string;
  /** Any of these types. */
  types?: readonly string[];
  /** Most events returned, newest first. */
  limit: number;
}

/**
 * The event of a write, recorded in the write's own transaction: it is written if and only if
 * the write takes effect (a code decided, a token rotated, a grant revoked, a client changed),
 * so no crash can leave a committed change without its event, nor an event without its change.
 * The port's writing methods take it as their last, optional argument.
 */
export type AuditOnWrite = NewAuditEvent | undefined;

export interface AuditRepository {
  /**
   * Append one event of no write of its own (a sign-in); resolves once it is durable. At most
   * one event per device code and type is kept: appending a second one does nothing.
   */
  append(event: NewAuditEvent): Promise<void>;
  /** Newest first (by `at`, then `id`). */
  list(filter: AuditFilter): Promise<AuditEventRecord[]>;
  /**
   * Record `device.expired` (actor `system`, `at` the code's expiry) for every device code
   * still pending whose expiry is at or before `now` and that has none yet. Returns how many.
   */
  recordExpired(now: number): Promise<number>;
  /** Delete events older than `before` (the retention). Returns how many. */
  purgeBefore(before: number): Promise<number>;
}
