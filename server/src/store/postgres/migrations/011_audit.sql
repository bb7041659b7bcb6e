-- The audit trail (issue 15, store/port/audit.ts): who did what, when, from which address.
-- Append-only: rows are inserted, read, and deleted only by age (AUDIT_RETENTION_DAYS); an
-- UPDATE is refused by the trigger below. No foreign keys: the trail outlives the users,
-- clients, grants and device codes it names. Never a secret in it: ids and addresses only.
-- PostgreSQL twin of store/sqlite/migrations/011_audit.sql.
CREATE TABLE audit_events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at BIGINT NOT NULL,                   -- ms since the epoch, core's clock (never now())
  type TEXT NOT NULL,                   -- device.approved, signin.failed, ...
  actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'client', 'cli', 'system')),
  actor_id TEXT,                        -- user id or client id
  actor_name TEXT,                      -- username, or the OS account that ran the CLI
  user_id TEXT,                         -- the person it is about
  username TEXT,
  client_id TEXT,
  grant_id TEXT,
  device_code_id BIGINT,                -- the row id of the code, never the code
  ip TEXT,
  scopes TEXT[],                        -- NULL when the type has none
  details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX audit_events_by_user ON audit_events (user_id, at) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_by_client ON audit_events (client_id, at) WHERE client_id IS NOT NULL;
-- One event of each type per device code: the expiry of a code, recorded by whichever comes first
-- (a listing, the purge tick, its client deleted; several instances at once), is kept once.
CREATE UNIQUE INDEX audit_events_once_per_code ON audit_events (device_code_id, type) WHERE device_code_id IS NOT NULL;

CREATE FUNCTION kalm_audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION kalm_audit_events_append_only();
