-- DPoP (RFC 9449): the proofs seen (their jti, replay refused while a proof is fresh, §11.1),
-- the secret the server nonces are derived from (§8), the key a grant's refresh tokens and an
-- authorization code are bound to (§5.0, §10), and the clients that must always send a proof
-- (§5.2 `dpop_bound_access_tokens`).

CREATE TABLE dpop_proofs (
  proof_key BYTEA PRIMARY KEY,          -- SHA-256 of the key's thumbprint and the proof's jti
  expires_at BIGINT NOT NULL            -- when the proof stops being fresh; then a replay is refused by its iat anyway
);
CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);

CREATE TABLE server_secrets (
  name TEXT PRIMARY KEY,
  secret BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);

ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;                 -- RFC 7638 thumbprint; set for public clients' DPoP grants
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;    -- RFC 9449 §10 `dpop_jkt` of the authorization request
ALTER TABLE clients ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT false;
