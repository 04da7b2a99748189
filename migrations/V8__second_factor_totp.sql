-- Second factors, round one: TOTP with recovery codes, and what a sign-in that needs a second
-- factor keeps between its two steps. The rules, each one statement:
--
--   * a TOTP code is accepted once: `accept_totp_step` advances the account's last accepted time
--     step only forward, so the same code (or an earlier one) never passes twice, even from two
--     requests at once;
--   * ten wrong second-factor codes for one account within 15 minutes lock its second factor for
--     15 minutes (`count_mfa_failure`), across every Lambda instance.

CREATE TABLE mfa_totp (
    user_id       uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- AES-256-GCM under the MFA key named by its id (see shared/src/tokens/sealed.rs).
    secret_key_id text        NOT NULL CHECK (octet_length(secret_key_id) <= 64),
    secret_sealed bytea       NOT NULL CHECK (octet_length(secret_sealed) <= 256),
    -- NULL while enrolled and not yet confirmed: enrolling again replaces the row.
    confirmed_at  timestamptz,
    last_step     bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mfa_recovery_codes (
    user_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- HMAC-SHA-256 under the MFA key named by key_id, bound to the account.
    code_hash bytea       NOT NULL CHECK (octet_length(code_hash) = 32),
    key_id    text        NOT NULL CHECK (octet_length(key_id) <= 64),
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- The step between the right password and the second factor: an opaque token, stored hashed,
-- single use, short-lived, dead after five wrong codes.
CREATE TABLE mfa_challenges (
    token_hash  bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    wrong_codes integer     NOT NULL DEFAULT 0 CHECK (wrong_codes >= 0),
    -- The device token presented with the password: the session's new one replaces it.
    replaces_device bytea   CHECK (octet_length(replaces_device) = 32)
);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);

CREATE TABLE mfa_failures (
    user_id      uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures     integer     NOT NULL CHECK (failures > 0),
    window_ends  timestamptz NOT NULL,
    locked_until timestamptz
);

-- How a session was authenticated: the access tokens of its refreshes say the same.
ALTER TABLE sessions
    ADD COLUMN aal text   NOT NULL DEFAULT 'aal1' CHECK (aal IN ('aal1', 'aal2')),
    ADD COLUMN amr text[] NOT NULL DEFAULT ARRAY['pwd'];

-- Accepts `p_step` for the account's confirmed TOTP if it is later than every step accepted
-- before; true when accepted. Two requests with one code: the second waits on the row, then
-- finds the step taken.
CREATE FUNCTION accept_totp_step(p_user_id uuid, p_step bigint) RETURNS boolean
LANGUAGE sql AS $$
    WITH accepted AS (
        UPDATE mfa_totp SET last_step = p_step
        WHERE user_id = p_user_id AND confirmed_at IS NOT NULL
          AND (last_step IS NULL OR last_step < p_step)
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM accepted)
$$;

-- Counts one wrong second-factor code for the account: returns the failures in the current
-- 15-minute window, this one included, and whether this one locked the second factor.
CREATE FUNCTION count_mfa_failure(p_user_id uuid, OUT failures integer, OUT locks boolean)
LANGUAGE sql AS $$
    INSERT INTO mfa_failures AS f (user_id, failures, window_ends)
    VALUES (p_user_id, 1, now() + interval '15 minutes')
    ON CONFLICT (user_id) DO UPDATE SET
        failures = CASE WHEN f.window_ends <= now() THEN 1 ELSE f.failures + 1 END,
        window_ends = CASE WHEN f.window_ends <= now() THEN excluded.window_ends
                           ELSE f.window_ends END,
        locked_until = CASE
            WHEN f.window_ends > now() AND f.failures + 1 >= 10
            THEN now() + interval '15 minutes'
            ELSE f.locked_until END
    RETURNING failures, failures = 10 AND locked_until > now()
$$;

ALTER TABLE sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoked_reason_check
    CHECK (revoked_reason IN ('logout', 'logout_global', 'ended_by_user', 'refresh_token_reuse',
                              'password_reset', 'password_changed', 'email_changed',
                              'mfa_enabled'));
ALTER TABLE auth_events DROP CONSTRAINT auth_events_kind_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_kind_check CHECK (kind IN (
    'signup', 'signin_succeeded', 'signin_failed', 'lockout', 'refresh',
    'refresh_token_reused', 'logout', 'logout_global', 'session_ended',
    'password_reset_requested', 'password_reset_completed',
    'signup_for_existing_address', 'signin_unverified', 'verification_sent', 'email_verified',
    'password_changed', 'email_change_requested', 'email_changed', 'account_deleted',
    'mfa_enrolled', 'mfa_enabled', 'mfa_challenged', 'mfa_failed', 'mfa_locked',
    'recovery_code_used', 'mfa_disabled', 'recovery_codes_regenerated'));
