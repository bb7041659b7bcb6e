-- Browser sessions of the verification pages (stored by the SHA-256 of their id, never
-- the id itself) and the failure counters of the brute-force limiter (RFC 8628 §5.1).

CREATE TABLE sessions (
  id_hash BYTEA PRIMARY KEY,
  -- No foreign key: with a plugged-in identity provider the user may live elsewhere.
  user_id TEXT,
  username TEXT,
  data JSONB NOT NULL DEFAULT '{}',     -- the pending user code, the last outcome, ...
  created_at BIGINT NOT NULL,
  authenticated_at BIGINT,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE attempt_counters (
  key TEXT PRIMARY KEY,                 -- e.g. "device:ip:203.0.113.7"; never a secret
  failures INTEGER NOT NULL,
  last_failure_at BIGINT NOT NULL
);
CREATE INDEX attempt_counters_by_time ON attempt_counters (last_failure_at);
