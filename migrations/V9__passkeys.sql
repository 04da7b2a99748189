-- Passkeys (WebAuthn): the credentials an account registered, and the ceremonies between a
-- start and its finish. The rules:
--
--   * a credential belongs to one account: `credential_id` is unique (webauthn-rs does not check
--     whether another account registered it);
--   * a ceremony is used once and for five minutes: its finish takes it with one
--     `DELETE … WHERE expires_at > now() RETURNING state`, so of two finishes of one ceremony
--     exactly one gets its state (webauthn-rs remembers no challenge: a kept state would let an
--     assertion be replayed);
--   * a registration ceremony is its user's (`user_id`); a sign-in ceremony is nobody's yet
--     (discoverable credentials: the user is known only from the assertion);
--   * the signature counter only moves forward: a sign-in stores the passkey (with its new
--     counter and backup flags) only over an older counter (see shared/src/store/passkeys.rs).

CREATE TABLE passkeys (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- WebAuthn caps credential ids at 1023 bytes.
    credential_id bytea       NOT NULL UNIQUE
                              CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    -- webauthn-rs's `Passkey` as it serialises: public key, counter, backup flags. No secret.
    passkey       jsonb       NOT NULL CHECK (octet_length(passkey::text) <= 16384),
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

CREATE TABLE webauthn_ceremonies (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('registration', 'authentication')),
    user_id    uuid        REFERENCES users (id) ON DELETE CASCADE,
    -- webauthn-rs's serialised ceremony state: the challenge and what the finish checks.
    state      jsonb       NOT NULL CHECK (octet_length(state::text) <= 65536),
    expires_at timestamptz NOT NULL,
    CHECK ((kind = 'registration') = (user_id IS NOT NULL))
);
-- The janitor deletes the expired ones.
CREATE INDEX webauthn_ceremonies_expires_at_idx ON webauthn_ceremonies (expires_at);

ALTER TABLE auth_events DROP CONSTRAINT auth_events_kind_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_kind_check CHECK (kind IN (
    'signup', 'signin_succeeded', 'signin_failed', 'lockout', 'refresh',
    'refresh_token_reused', 'logout', 'logout_global', 'session_ended',
    'password_reset_requested', 'password_reset_completed',
    'signup_for_existing_address', 'signin_unverified', 'verification_sent', 'email_verified',
    'password_changed', 'email_change_requested', 'email_changed', 'account_deleted',
    'mfa_enrolled', 'mfa_enabled', 'mfa_challenged', 'mfa_failed', 'mfa_locked',
    'recovery_code_used', 'mfa_disabled', 'recovery_codes_regenerated',
    'passkey_added', 'passkey_removed'));
