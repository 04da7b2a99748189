-- Hardening: throttling state shared by every Lambda instance, session metadata for
-- `GET /api/sessions`, and an append-only audit log.
--
-- Emails that may not belong to any account (throttling, audit) are stored only as SHA-256
-- digests of the normalised address, never in clear.

-- Fixed-window request counters (per client IP and endpoint, per email for password resets).
-- One atomic upsert per request counts and reads a window; rows past `window_ends` are reset by
-- the next hit and pruned by the janitor.
CREATE TABLE rate_limits (
    bucket      text        NOT NULL,
    subject     text        NOT NULL CHECK (octet_length(subject) <= 128),
    hits        integer     NOT NULL CHECK (hits > 0),
    window_ends timestamptz NOT NULL,
    PRIMARY KEY (bucket, subject)
);
CREATE INDEX rate_limits_window_ends_idx ON rate_limits (window_ends);

-- Consecutive failed sign-ins per attempted email, known or not (unknown emails are throttled
-- exactly like known ones). A success deletes the row; a quiet day forgets it.
CREATE TABLE signin_failures (
    email_hash   bytea       PRIMARY KEY CHECK (octet_length(email_hash) = 32),
    failures     integer     NOT NULL CHECK (failures > 0),
    locked_until timestamptz,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX signin_failures_expires_at_idx ON signin_failures (expires_at);

-- What `GET /api/sessions` shows. `last_used_at` moves when the session's tokens are issued
-- (sign-in, refresh), not on every authenticated read, which stays a pure read.
ALTER TABLE sessions
    ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN user_agent   text CHECK (char_length(user_agent) <= 512),
    ADD COLUMN ip           inet;
ALTER TABLE sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoked_reason_check
    CHECK (revoked_reason IN ('logout', 'logout_global', 'ended_by_user', 'refresh_token_reuse', 'password_reset'));

-- Who did what, when, from where. Never a password, token or hash of either; the attempted email
-- only as a digest. No foreign key: the trail outlives the accounts it mentions.
CREATE TABLE auth_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    kind        text        NOT NULL CHECK (kind IN (
                    'signup', 'signin_succeeded', 'signin_failed', 'lockout', 'refresh',
                    'refresh_token_reused', 'logout', 'logout_global', 'session_ended',
                    'password_reset_requested', 'password_reset_completed')),
    user_id     uuid,
    email_hash  bytea       CHECK (octet_length(email_hash) = 32),
    session_id  uuid,
    ip          inet,
    user_agent  text        CHECK (char_length(user_agent) <= 512)
);
CREATE INDEX auth_events_user_id_idx ON auth_events (user_id, occurred_at) WHERE user_id IS NOT NULL;

-- Append-only, enforced by the database rather than by convention: rows cannot be changed or
-- removed, even by the API's own role (which owns the table and so cannot be denied by GRANTs).
CREATE FUNCTION auth_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auth_events is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER auth_events_no_update_or_delete BEFORE UPDATE OR DELETE ON auth_events
    FOR EACH ROW EXECUTE FUNCTION auth_events_append_only();
CREATE TRIGGER auth_events_no_truncate BEFORE TRUNCATE ON auth_events
    FOR EACH STATEMENT EXECUTE FUNCTION auth_events_append_only();

-- Counts one request against a budget and returns the window's hits so far and the seconds until
-- it resets: one atomic upsert, so concurrent requests on any number of instances never lose a
-- count. A window that has ended starts again at 1.
CREATE FUNCTION hit_rate_limit(p_bucket text, p_subject text, p_window_seconds double precision,
                               OUT hits integer, OUT resets_in double precision)
LANGUAGE sql AS $$
    INSERT INTO rate_limits AS r (bucket, subject, hits, window_ends)
    VALUES (p_bucket, p_subject, 1, now() + make_interval(secs => p_window_seconds))
    ON CONFLICT (bucket, subject) DO UPDATE SET
        hits = CASE WHEN r.window_ends <= now() THEN 1 ELSE least(r.hits, 2147483646) + 1 END,
        window_ends = CASE WHEN r.window_ends <= now() THEN excluded.window_ends ELSE r.window_ends END
    RETURNING hits, extract(epoch FROM window_ends - now())::double precision
$$;
