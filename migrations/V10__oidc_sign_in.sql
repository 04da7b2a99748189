-- Sign-in through OpenID Connect providers (PKCE, as Supabase Auth's): the flow between the
-- authorize redirect and the provider's callback, the one-time code handed back to the app, and
-- the identities that link a provider's subject to an account. The rules:
--
--   * a flow is used once and for ten minutes: the callback takes it with one
--     `DELETE … WHERE expires_at > now() RETURNING …` (its `state` is the row's random id), so a
--     replayed callback finds nothing;
--   * the one-time code is stored hashed, lives 60 seconds, is used once (the same atomic take)
--     and only with the verifier of the app's S256 challenge it is bound to;
--   * an identity is (provider, subject): one account per provider subject, never two.

CREATE TABLE oauth_flows (
    -- Our `state`: 256 random bits in base64url, the row's id (nothing else identifies it).
    state          text        PRIMARY KEY CHECK (octet_length(state) BETWEEN 32 AND 128),
    provider       text        NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
    -- Upstream PKCE and nonce: what the callback needs to exchange the code and check the ID
    -- token. Secrets for ten minutes, single use.
    pkce_verifier  text        NOT NULL CHECK (octet_length(pkce_verifier) BETWEEN 43 AND 128),
    nonce          text        NOT NULL CHECK (octet_length(nonce) BETWEEN 16 AND 256),
    -- Where the app asked to be sent back (on the allowlist then), and its S256 challenge.
    redirect_to    text        NOT NULL CHECK (octet_length(redirect_to) <= 2048),
    code_challenge text        NOT NULL CHECK (octet_length(code_challenge) = 43),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX oauth_flows_expires_at_idx ON oauth_flows (expires_at);

CREATE TABLE oauth_identities (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   text        NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
    -- The provider's `sub`: stable and unique per provider (OIDC Core §2), at most 255 ASCII.
    subject    text        NOT NULL CHECK (octet_length(subject) BETWEEN 1 AND 255),
    -- The address the provider asserted when the identity was linked (shown in the list).
    email      text        CHECK (octet_length(email) <= 320),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, subject)
);
CREATE INDEX oauth_identities_user_id_idx ON oauth_identities (user_id);

CREATE TABLE oauth_codes (
    code_hash      bytea       PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text        NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
    code_challenge text        NOT NULL CHECK (octet_length(code_challenge) = 43),
    -- The provider's token asserted a second factor (`amr` containing `mfa`): an account with
    -- TOTP on then skips our own second step.
    provider_mfa   boolean     NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX oauth_codes_expires_at_idx ON oauth_codes (expires_at);

-- An account made through a provider has no password until forgot-password sets one.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;

-- The provider a session was opened through (its tokens' `idp` claim, kept by refresh); and, for
-- a sign-in's second step, how its first step was made (the password, or a provider).
ALTER TABLE sessions ADD COLUMN idp text CHECK (idp ~ '^[a-z][a-z0-9_]{0,31}$');
ALTER TABLE mfa_challenges
    ADD COLUMN first_factor text NOT NULL DEFAULT 'pwd' CHECK (first_factor IN ('pwd', 'oidc')),
    ADD COLUMN idp text CHECK (idp ~ '^[a-z][a-z0-9_]{0,31}$');

-- Linking an identity to an existing account and unlinking one are audited (`identity_linked`,
-- `identity_unlinked`; an account made through a provider is a `signup`): every kind so far, and
-- the new ones.
ALTER TABLE auth_events DROP CONSTRAINT auth_events_kind_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_kind_check CHECK (kind IN (
    'signup', 'signin_succeeded', 'signin_failed', 'lockout', 'refresh',
    'refresh_token_reused', 'logout', 'logout_global', 'session_ended',
    'password_reset_requested', 'password_reset_completed',
    'signup_for_existing_address', 'signin_unverified', 'verification_sent', 'email_verified',
    'password_changed', 'email_change_requested', 'email_changed', 'account_deleted',
    'mfa_enrolled', 'mfa_enabled', 'mfa_challenged', 'mfa_failed', 'mfa_locked',
    'recovery_code_used', 'mfa_disabled', 'recovery_codes_regenerated',
    'passkey_added', 'passkey_removed',
    'identity_linked', 'identity_unlinked'));

-- The one rule for taking a way to sign in away (unlinking an identity, removing a passkey): the
-- account keeps another — its password, another identity or another passkey. Callers lock the
-- account's row first, so that two removals at once cannot each count on the other's.
CREATE FUNCTION keeps_a_way_in(p_user_id uuid, p_without_identity uuid, p_without_passkey uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM users WHERE id = p_user_id AND password_hash IS NOT NULL)
        OR EXISTS (SELECT 1 FROM oauth_identities
                   WHERE user_id = p_user_id AND id IS DISTINCT FROM p_without_identity)
        OR EXISTS (SELECT 1 FROM passkeys
                   WHERE user_id = p_user_id AND id IS DISTINCT FROM p_without_passkey)
$$;
