-- Authorization codes (RFC 6749 §4.1, RFC 7636), remembered consent, application
-- profiles (the kind of app and how it was registered) and RFC 7591 initial access
-- tokens. Codes and initial access tokens are stored only as SHA-256 hashes.

CREATE TABLE authorization_codes (
  code_hash BYTEA PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  scopes TEXT[] NOT NULL,               -- what the person granted
  redirect_uri TEXT NOT NULL,           -- exactly as the authorization request gave it
  redirect_uri_given BOOLEAN NOT NULL,  -- the request carried redirect_uri (RFC 6749 §4.1.3)
  code_challenge TEXT NOT NULL,         -- RFC 7636 S256 challenge
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  grant_id TEXT REFERENCES grants(id) ON DELETE SET NULL
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE consents (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  requested_scopes TEXT[] NOT NULL,     -- every scope the person was asked about
  granted_scopes TEXT[] NOT NULL,       -- the ones they ticked
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);

CREATE TABLE client_profiles (
  client_id TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('spa', 'mobile', 'cli', 'tv', 'server')),
  registered_via TEXT NOT NULL CHECK (registered_via IN ('apps', 'register')),
  token_endpoint_auth_method TEXT NOT NULL,
  metadata JSONB NOT NULL DEFAULT '{}'  -- the RFC 7591 metadata echoed back (client_uri, contacts, …)
);

CREATE TABLE initial_access_tokens (
  token_hash BYTEA PRIMARY KEY,
  owner_user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  uses_left INTEGER NOT NULL
);
CREATE INDEX grants_by_client ON grants (client_id);
