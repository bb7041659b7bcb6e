-- Other server instances on this database learn of decisions and revocations (store/
-- postgres/decision-feed.ts, core/cross-process.ts) two ways: at once, from the NOTIFY these
-- triggers send on channel `kalm_feed` when the deciding or revoking transaction commits; and
-- by reading the rows after a lost listening connection (the catch-up read). Partial indexes:
-- pending codes and live grants, nearly every row, cost them nothing.
CREATE INDEX device_codes_by_decision ON device_codes (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX grants_by_revocation ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

-- The payload is a FeedEvent of store/port/decision-feed.ts as JSON:
--   {"kind": "decided", "deviceCodeId": 12, "status": "approved", "at": 1700000000000}
--   {"kind": "revoked", "grantId": "…", "at": 1700000000000}
-- No secret: ids, a status and a time.
CREATE FUNCTION kalm_feed_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kalm_feed', json_build_object(
    'kind', 'decided',
    'deviceCodeId', NEW.id,
    'status', CASE WHEN NEW.status = 'denied' THEN 'denied' ELSE 'approved' END,
    'at', NEW.decided_at)::text);
  RETURN NULL;
END $$;

CREATE FUNCTION kalm_feed_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kalm_feed', json_build_object('kind', 'revoked', 'grantId', NEW.id, 'at', NEW.revoked_at)::text);
  RETURN NULL;
END $$;

CREATE TRIGGER device_codes_feed AFTER UPDATE OF decided_at ON device_codes
  FOR EACH ROW WHEN (OLD.decided_at IS NULL AND NEW.decided_at IS NOT NULL)
  EXECUTE FUNCTION kalm_feed_decided();

CREATE TRIGGER grants_feed AFTER UPDATE OF revoked_at ON grants
  FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION kalm_feed_revoked();
