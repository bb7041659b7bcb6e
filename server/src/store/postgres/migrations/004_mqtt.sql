-- MQTT bridge: which request id (rid) holds which device code, bound to the device's
-- ephemeral public key; and the replay cache of token/refresh proofs.
-- The device code itself is never here (device_codes keeps only its hash).

CREATE TABLE mqtt_requests (
  rid TEXT PRIMARY KEY,
  device_code_id BIGINT NOT NULL UNIQUE REFERENCES device_codes(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL,
  jwk JSONB NOT NULL,              -- the device's public P-256 key
  jwk_thumbprint TEXT NOT NULL,    -- RFC 7638, to recognise a repeated authorize
  created_at BIGINT NOT NULL,
  -- The last status published on {rid}/status and acknowledged by the broker; a decision
  -- taken while the broker was away stays NULL here and is published when it returns.
  notified_status TEXT CHECK (notified_status IN ('approved', 'denied', 'expired')),
  -- The token response as a compact JWE only the device's private key opens, kept so a
  -- device whose answer was lost can ask again after the code was spent.
  token_answer TEXT
);

CREATE TABLE mqtt_proof_ids (
  rid TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (rid, jti)
);
CREATE INDEX mqtt_proof_ids_by_expiry ON mqtt_proof_ids (expires_at);
CREATE INDEX mqtt_requests_unnotified ON mqtt_requests (device_code_id) WHERE notified_status IS NULL;
