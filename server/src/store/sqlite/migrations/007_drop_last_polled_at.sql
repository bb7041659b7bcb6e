-- Poll pacing lives in memory (core/poll-pacing.ts) so that a pending poll writes nothing;
-- this column has not been written since, and a restarted server counts the next poll as a
-- first one (RFC 8628 §3.5 lets it through).
ALTER TABLE device_codes DROP COLUMN last_polled_at;
