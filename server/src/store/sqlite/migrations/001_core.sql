-- Clients, users, device codes, grants (refresh-token families), refresh tokens,
-- revoked access tokens and keys. Secrets are stored only as hashes.

CREATE TABLE clients (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('public', 'confidential')),
  secret_hash TEXT,
  grant_types TEXT NOT NULL,            -- space-separated
  scopes TEXT NOT NULL,                 -- space-separated
  redirect_uris TEXT NOT NULL DEFAULT '[]', -- JSON array
  device_code_ttl INTEGER,
  device_poll_interval INTEGER,
  access_token_alg TEXT CHECK (access_token_alg IN ('ES256', 'RS256')),
  owner_user_id TEXT,
  created_at INTEGER NOT NULL,
  CHECK ((type = 'confidential') = (secret_hash IS NOT NULL))
) STRICT;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'developer', 'admin')),
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  scopes TEXT NOT NULL,
  origin TEXT NOT NULL,
  device_name TEXT,
  request_ip TEXT,
  request_user_agent TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX grants_by_user ON grants (user_id);

CREATE TABLE device_codes (
  id INTEGER PRIMARY KEY,
  device_code_hash BLOB NOT NULL UNIQUE,
  user_code TEXT NOT NULL UNIQUE,
  client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  scopes TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
  user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  granted_scopes TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  interval INTEGER NOT NULL,
  last_polled_at INTEGER,
  decided_at INTEGER,
  request_ip TEXT,
  request_user_agent TEXT,
  grant_id TEXT REFERENCES grants(id) ON DELETE SET NULL
) STRICT;
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at);

CREATE TABLE refresh_tokens (
  token_hash BLOB PRIMARY KEY,
  grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

CREATE TABLE revoked_access_tokens (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE keys (
  kid TEXT PRIMARY KEY,
  alg TEXT NOT NULL,
  use TEXT NOT NULL CHECK (use IN ('sig', 'enc')),
  private_jwk TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER
) STRICT;
