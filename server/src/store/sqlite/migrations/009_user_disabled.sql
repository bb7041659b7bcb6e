-- Operating (kalm user disable|enable): a disabled account cannot sign in, and its devices cannot
-- refresh, until it is enabled again; nothing is deleted. The sessions of one account are ended
-- when it is disabled, deleted or given a new password: the partial index finds them without
-- touching the anonymous sessions, nearly every row.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;    -- ms since the epoch; NULL while enabled
CREATE INDEX sessions_by_user ON sessions (user_id) WHERE user_id IS NOT NULL;
