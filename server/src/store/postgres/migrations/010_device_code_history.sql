-- The admin dashboard (/admin) counts device flows over the last 24 h, but an ended device code's
-- row is purged an hour after it expires (server.ts). What the counts need of a code outlives it
-- here: its client, its final status and its times; no code, hash, user, scope or address.
-- Filled by the trigger on every delete (the purge, an expired user code drawn again, a client
-- deleted), so no flow writes anything more; rows are kept 48 h past their code's expiry,
-- pruned by the same trigger (relative to the code deleted, never now(): tests run a fake clock).
-- PostgreSQL twin of store/sqlite/migrations/010_device_code_history.sql.
CREATE TABLE device_code_history (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_id TEXT NOT NULL,              -- no foreign key: the history of a deleted client stays
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  decided_at BIGINT
);
CREATE INDEX device_code_history_by_expiry ON device_code_history (expires_at);
-- The dashboard's windows, each read from its index alone (only the purge writes this table, so
-- wide indexes cost no request anything): requests by created_at, decisions by decided_at with
-- what the per-client counts and the median read, expiries of undecided codes by expires_at.
CREATE INDEX device_code_history_by_creation ON device_code_history (created_at);
CREATE INDEX device_code_history_by_decision ON device_code_history (decided_at, status, client_id, created_at) WHERE decided_at IS NOT NULL;
CREATE INDEX device_code_history_undecided ON device_code_history (expires_at) WHERE status = 'pending';

CREATE FUNCTION kalm_keep_device_code_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO device_code_history (client_id, status, created_at, expires_at, decided_at)
    VALUES (OLD.client_id, OLD.status, OLD.created_at, OLD.expires_at, OLD.decided_at);
  DELETE FROM device_code_history WHERE expires_at < OLD.expires_at - 172800000;
  RETURN NULL;
END $$;

CREATE TRIGGER device_codes_history AFTER DELETE ON device_codes
  FOR EACH ROW EXECUTE FUNCTION kalm_keep_device_code_history();
