-- RFC 8628 §3.5 pacing of pending polls leaves the durable rows (as on SQLite, where it went
-- to core's memory): several instances answer one device's polls, so pacing is shared here,
-- in an UNLOGGED table (store/postgres/device-codes.ts, `pollPacing`): one upsert a poll, no
-- WAL, emptied by a database crash, which is harmless (the next poll counts as a first one,
-- which §3.5 lets through).
ALTER TABLE device_codes DROP COLUMN last_polled_at;

CREATE UNLOGGED TABLE device_code_polls (
  device_code_id BIGINT PRIMARY KEY REFERENCES device_codes(id) ON DELETE CASCADE,
  last_polled_at BIGINT NOT NULL,       -- ms of the latest poll
  interval INTEGER NOT NULL,            -- seconds, the interval in force (grows on slow_down)
  early BOOLEAN NOT NULL                -- the latest poll came sooner than the interval then in force
);
