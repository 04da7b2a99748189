-- The sign-in lockout, round two: an attacker who does not know the password can no longer keep
-- its owner out. The rule, in one place (the functions below):
--
--   * A failure streak is kept per *scope* of an address (known or not, exactly alike):
--       - 'net:<network>': the client's network (its IPv4 address, or its IPv6 /64). Five
--         consecutive failures are free; the n-th (n >= 5) locks that network out of that address
--         for 2^(n - 5) seconds, at most 15 minutes. An attacker's guesses lock out the
--         attacker's network, not the owner's.
--       - 'account': every untrusted client together, so that many networks (a botnet) cannot
--         guess without end: 100 free failures, then the same doubling lock for all of them.
--       - 'device:<id>': a client presenting a valid device token (returned by its last successful
--         sign-in to this account, stored hashed in `signin_devices`) is counted under its own
--         streak only, with the network's allowance, and is exempt from the locks of the other
--         scopes: the owner's own browser gets in while the account is under attack.
--   * Attempts are admitted before the password is checked, and counted as *pending* until they
--     finish, so parallel guesses cannot outrun the lock: a scope admits at most as many
--     attempts at once as it has free failures left (at least one). A success never counts as a
--     failure, so parallel correct sign-ins never lock anything.
--   * A failure counts; a success clears the streaks it was counted under; a completed password
--     reset (or password change) clears every streak of the address.
--   * A locked attempt is refused without being counted and without hashing.
--   * A streak untouched for a day is forgotten (and pruned by the janitor); a pending count whose
--     attempt never finished (its Lambda died) is forgotten after a minute.

ALTER TABLE signin_failures DROP CONSTRAINT signin_failures_pkey;
ALTER TABLE signin_failures DROP CONSTRAINT signin_failures_failures_check;
-- Streaks kept so far were per address: they become the account-wide ones.
ALTER TABLE signin_failures
    ADD COLUMN scope         text    NOT NULL DEFAULT 'account' CHECK (octet_length(scope) <= 64),
    ADD COLUMN pending       integer NOT NULL DEFAULT 0 CHECK (pending >= 0),
    ADD COLUMN pending_until timestamptz,
    ADD CONSTRAINT signin_failures_failures_check CHECK (failures >= 0),
    ADD PRIMARY KEY (email_hash, scope);
ALTER TABLE signin_failures ALTER COLUMN scope DROP DEFAULT;
DROP FUNCTION count_signin_attempt(bytea);

-- Device tokens (OWASP's "device cookie"): 256 random bits handed to the client by a successful
-- sign-in, stored only as SHA-256, presented with the next sign-in of the same account. The
-- newest twenty of an account are kept; a use replaces the token with a new one.
CREATE TABLE signin_devices (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX signin_devices_user_id_idx ON signin_devices (user_id, created_at);
CREATE INDEX signin_devices_expires_at_idx ON signin_devices (expires_at);

-- Consecutive failures a scope allows before each further one locks it.
CREATE FUNCTION signin_free_failures(p_scope text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_scope = 'account' THEN 100 ELSE 5 END
$$;

-- The streaks of an address in the given scopes, created when missing, locked until the end of
-- the transaction. Rows are created, then locked, in scope order: concurrent attempts queue on
-- them without deadlocking, and each sees every earlier one, committed.
CREATE FUNCTION lock_signin_streaks(p_email_hash bytea, p_scopes text[])
RETURNS SETOF signin_failures
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signin_failures (email_hash, scope, failures, expires_at)
    SELECT p_email_hash, s, 0, now() FROM unnest(p_scopes) AS s ORDER BY s
    ON CONFLICT (email_hash, scope) DO NOTHING;
    RETURN QUERY SELECT * FROM signin_failures
                 WHERE email_hash = p_email_hash AND scope = ANY (p_scopes)
                 ORDER BY scope FOR UPDATE;
END
$$;

-- Admits one attempt under every scope in `p_scopes`, or refuses it: `admitted`, or the seconds
-- to wait (`wait`) until the longest of the scopes' locks is over.
CREATE FUNCTION begin_signin_attempt(p_email_hash bytea, p_scopes text[],
                                     OUT admitted boolean, OUT wait double precision)
LANGUAGE plpgsql AS $$
DECLARE
    streak    signin_failures%ROWTYPE;
    v_failed  integer;
    v_pending integer;
    until     timestamptz := now();
BEGIN
    FOR streak IN SELECT * FROM lock_signin_streaks(p_email_hash, p_scopes) LOOP
        v_failed := CASE WHEN streak.expires_at > now() THEN streak.failures ELSE 0 END;
        v_pending := CASE WHEN streak.pending_until > now() THEN streak.pending ELSE 0 END;
        IF streak.locked_until > until THEN
            until := streak.locked_until;
        END IF;
        IF v_pending >= greatest(signin_free_failures(streak.scope) - v_failed, 1) THEN
            until := greatest(until, now() + interval '1 second');
        END IF;
    END LOOP;
    admitted := until <= now();
    IF NOT admitted THEN
        wait := extract(epoch FROM until - now());
        RETURN;
    END IF;
    UPDATE signin_failures SET
        failures = CASE WHEN expires_at > now() THEN failures ELSE 0 END,
        pending = CASE WHEN pending_until > now() THEN pending ELSE 0 END + 1,
        pending_until = now() + interval '1 minute',
        expires_at = now() + interval '1 day'
    WHERE email_hash = p_email_hash AND scope = ANY (p_scopes);
END
$$;

-- Finishes an admitted attempt. A success clears the streaks of its scopes; a failure counts in
-- each of them and returns whether it locked one.
CREATE FUNCTION end_signin_attempt(p_email_hash bytea, p_scopes text[], p_succeeded boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    streak  signin_failures%ROWTYPE;
    counted integer;
    locked  boolean := false;
BEGIN
    IF p_succeeded THEN
        DELETE FROM signin_failures WHERE email_hash = p_email_hash AND scope = ANY (p_scopes);
        RETURN false;
    END IF;
    -- (A concurrent success may have cleared a row since the attempt began: it counts afresh.)
    FOR streak IN SELECT * FROM lock_signin_streaks(p_email_hash, p_scopes) LOOP
        counted := CASE WHEN streak.expires_at > now() THEN streak.failures ELSE 0 END + 1;
        locked := locked OR counted >= signin_free_failures(streak.scope);
        UPDATE signin_failures SET
            failures = counted,
            pending = greatest(CASE WHEN pending_until > now() THEN pending ELSE 0 END - 1, 0),
            locked_until = CASE
                WHEN counted >= signin_free_failures(scope)
                THEN now() + make_interval(secs => least(
                         power(2, counted - signin_free_failures(scope)), 15 * 60))
                ELSE locked_until
            END,
            expires_at = now() + interval '1 day'
        WHERE email_hash = p_email_hash AND scope = streak.scope;
    END LOOP;
    RETURN locked;
END
$$;
