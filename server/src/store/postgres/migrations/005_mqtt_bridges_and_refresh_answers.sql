-- MQTT bridge, second step: several bridges on one database, and refreshes that survive a crash.

-- The bridges connected to the broker, each seen within the last few seconds: a bridge that
-- stops leaves the broker's share group only when another one is there to take its requests
-- (alone, it keeps its place, so the broker queues requests for it while it restarts).
CREATE TABLE mqtt_bridges (
  client_id TEXT PRIMARY KEY,      -- the bridge's MQTT client id
  seen_at BIGINT NOT NULL          -- last heartbeat, ms
);

-- The answer to a refresh served over MQTT: the rotated pair as a compact JWE that only the
-- key the device asked for opens, written in the transaction that rotates the token. A device
-- that lost the answer (server crash, lost connection) asks again with the same refresh token
-- and key and gets this answer, instead of the reuse revocation of RFC 9700 §4.14.2.
-- No secret in clear: refresh tokens appear as SHA-256 hashes, the answer is ciphertext.
CREATE TABLE mqtt_refresh_answers (
  token_hash BYTEA PRIMARY KEY,    -- the refresh token spent
  successor_hash BYTEA NOT NULL,   -- the refresh token inside the answer
  jwk_thumbprint TEXT NOT NULL,    -- RFC 7638 thumbprint of the key the answer is encrypted to
  answer TEXT NOT NULL,
  expires_at BIGINT NOT NULL       -- the successor's expiry
);
CREATE INDEX mqtt_refresh_answers_by_successor ON mqtt_refresh_answers (successor_hash);
CREATE INDEX mqtt_refresh_answers_by_expiry ON mqtt_refresh_answers (expires_at);
