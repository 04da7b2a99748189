-- Sessions, round two.
--
-- One live refresh token per session: the session names it (`refresh_token_hash`). A rotation,
-- including one inside the reuse grace window, makes its new token the session's; any other
-- unused token of the session (the child an earlier rotation of the same token issued) is then
-- superseded, and presenting it counts as reuse, which ends the session. So a thief replaying a
-- rotated token inside the window cannot keep a branch of the session that reuse detection never
-- sees. Sessions from before this migration name no token: their unused tokens keep working
-- until their next rotation names one.
--
-- An absolute lifetime: `max_expires_at` is fixed at sign-in (`SESSION_MAX_LIFETIME`); a rotation
-- pushes `expires_at` forward, never past it. Sessions from before get 30 days from their start.
ALTER TABLE sessions
    ADD COLUMN refresh_token_hash bytea CHECK (octet_length(refresh_token_hash) = 32),
    ADD COLUMN max_expires_at     timestamptz;
UPDATE sessions SET max_expires_at = greatest(created_at + interval '30 days', expires_at);
ALTER TABLE sessions ALTER COLUMN max_expires_at SET NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_expiry_within_lifetime
    CHECK (expires_at <= max_expires_at);
