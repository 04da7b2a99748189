-- The original API's tables (users, refresh_tokens, revoked_tokens, reset_tokens) keep their
-- roles; sessions and email_outbox are new. Tokens are stored only as SHA-256 digests: a copy of
-- this database must not hand out working credentials.

CREATE TABLE users (
    -- Random ids: sequential ones would leak how many accounts exist.
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- Stored normalised (trimmed, lower case) so the unique index makes emails case-insensitive.
    email         text        NOT NULL CHECK (email = lower(email) AND octet_length(email) <= 254),
    -- Argon2id PHC string: algorithm, parameters and salt travel with the hash.
    password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- A session is opened by sign-in and ends at logout, on refresh-token reuse (theft) or when the
-- password is reset. Access tokens carry the session id, so ending a session kills them at once.
CREATE TABLE sessions (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Pushed forward by every rotation; past it the session is dead and may be pruned.
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('logout', 'refresh_token_reuse', 'password_reset')),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Every refresh rotates: the presented token gets used_at, a new one is inserted.
CREATE TABLE refresh_tokens (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- Access tokens revoked before their expiry (logout). Rows are useless after expires_at.
CREATE TABLE revoked_tokens (
    jti        uuid        PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_session_id_idx ON revoked_tokens (session_id);

CREATE TABLE reset_tokens (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX reset_tokens_user_id_idx ON reset_tokens (user_id) WHERE used_at IS NULL;

-- Transactional outbox: the email is written in the same transaction as the reset token, and a
-- sender (log locally, SES in the cloud) delivers it afterwards, retrying from attempts/last_error.
CREATE TABLE email_outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient  text        NOT NULL,
    subject    text        NOT NULL,
    body_text  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text
);
CREATE INDEX email_outbox_unsent_idx ON email_outbox (created_at) WHERE sent_at IS NULL;
