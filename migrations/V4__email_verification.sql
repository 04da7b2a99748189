-- Proven email addresses: an account is confirmed by a link or a 6-digit code sent to its address,
-- an address change waits for the new address to be confirmed, and accounts can be deleted.

-- NULL until the address is proven. Accounts from before this migration were never asked to
-- prove theirs: they count as confirmed, rather than being locked out by an upgrade.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
-- Set for accounts created while REQUIRE_EMAIL_VERIFICATION was on: only those are deleted by
-- the janitor when left unconfirmed (an account made with verification off never had the chance).
ALTER TABLE users ADD COLUMN verification_required boolean NOT NULL DEFAULT false;
CREATE INDEX users_unverified_idx ON users (created_at)
    WHERE email_verified_at IS NULL AND verification_required;

-- The one live confirmation of an account (a newer one replaces it, which kills the older link
-- and code): for its own address after sign-up, or for a new address it asked to move to. The
-- token is stored as SHA-256; the code as an HMAC under a server-side key, so a copy of this
-- table cannot be used to try the million codes offline.
CREATE TABLE email_verifications (
    user_id     uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email       text        NOT NULL CHECK (email = lower(email) AND octet_length(email) <= 254),
    purpose     text        NOT NULL CHECK (purpose IN ('signup', 'change_email')),
    token_hash  bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    code_hash   bytea       NOT NULL CHECK (octet_length(code_hash) = 32),
    -- Five wrong codes for the address make this code dead; the link still works.
    wrong_codes integer     NOT NULL DEFAULT 0 CHECK (wrong_codes >= 0),
    -- For an address change: the session that asked, which survives the confirmation.
    session_id  uuid,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX email_verifications_email_idx ON email_verifications (email);
CREATE INDEX email_verifications_expires_at_idx ON email_verifications (expires_at);

ALTER TABLE sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoked_reason_check
    CHECK (revoked_reason IN ('logout', 'logout_global', 'ended_by_user', 'refresh_token_reuse',
                              'password_reset', 'password_changed', 'email_changed'));

ALTER TABLE auth_events DROP CONSTRAINT auth_events_kind_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_kind_check CHECK (kind IN (
    'signup', 'signin_succeeded', 'signin_failed', 'lockout', 'refresh',
    'refresh_token_reused', 'logout', 'logout_global', 'session_ended',
    'password_reset_requested', 'password_reset_completed',
    'signup_for_existing_address', 'signin_unverified', 'verification_sent', 'email_verified',
    'password_changed', 'email_change_requested', 'email_changed', 'account_deleted'));
