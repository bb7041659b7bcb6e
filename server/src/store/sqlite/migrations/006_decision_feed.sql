-- Another server process on this database learns of decisions and revocations by reading
-- these (store/decision-feed.ts, core/cross-process.ts). Partial indexes: pending codes and
-- live grants, nearly every row, cost them nothing.
CREATE INDEX device_codes_by_decision ON device_codes (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX grants_by_revocation ON grants (revoked_at) WHERE revoked_at IS NOT NULL;
