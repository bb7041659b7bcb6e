-- The audit trail (issue 15, store/port/audit.ts): who did what, when, from which address.
-- Append-only: rows are inserted, read, and deleted only by age (AUDIT_RETENTION_DAYS); an
-- UPDATE is refused by the trigger below. No foreign keys: the trail outlives the users,
-- clients, grants and device codes it names. Never a secret in it: ids and addresses only.
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even once the oldest rows are purged
  at INTEGER NOT NULL,                  -- ms since the epoch, core's clock
  type TEXT NOT NULL,                   -- device.approved, signin.failed, ...
  actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'client', 'cli', 'system')),
  actor_id TEXT,                        -- user id or client id
  actor_name TEXT,                      -- username, or the OS account that ran the CLI
  user_id TEXT,                         -- the person it is about
  username TEXT,
  client_id TEXT,
  grant_id TEXT,
  device_code_id INTEGER,               -- the row id of the code, never the code
  ip TEXT,
  scopes TEXT,                          -- space-separated; NULL when the type has none
  details TEXT NOT NULL DEFAULT '{}'    -- JSON object
) STRICT;
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX audit_events_by_user ON audit_events (user_id, at) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_by_client ON audit_events (client_id, at) WHERE client_id IS NOT NULL;
-- One event of each type per device code: the expiry of a code, recorded by whichever comes first
-- (a listing, the purge tick, its client deleted; several instances at once), is kept once.
CREATE UNIQUE INDEX audit_events_once_per_code ON audit_events (device_code_id, type) WHERE device_code_id IS NOT NULL;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
