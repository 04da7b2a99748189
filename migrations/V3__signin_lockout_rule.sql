-- The sign-in lockout rule, in one place.
--
-- Every sign-in attempt on an address is counted as a failure before the password is checked
-- (a success then deletes the streak), so guesses sent in parallel cannot outrun the lock: the
-- sixth of six concurrent attempts already sees five failures. The rule:
--
--   * five consecutive failures are free;
--   * the n-th failure (n >= 5) locks the address for 2^(n - 5) seconds, at most 15 minutes;
--   * while locked, an attempt is refused without being counted (and without hashing);
--   * a streak untouched for a day is forgotten (and pruned by the janitor).
--
-- Attempts on one address queue on its row lock, so each sees every earlier one, committed; the
-- lock that an attempt meets is therefore always known to it (before, an attempt racing the one
-- that locked the address had to ask again). Unknown addresses are counted exactly like known
-- ones: the answer never tells them apart.
--
-- Returns the streak including this attempt, or, when the address is locked, the seconds left
-- (and a NULL streak). `locks` says whether this attempt, should it fail, starts a lock.
CREATE FUNCTION count_signin_attempt(p_email_hash bytea,
                                     OUT streak integer, OUT locked_for double precision,
                                     OUT locks boolean)
LANGUAGE plpgsql AS $$
DECLARE
    free_failures  constant integer  := 5;
    max_lock_secs  constant double precision := 15 * 60;
    forget_after   constant interval := interval '1 day';
    before         signin_failures%ROWTYPE;
BEGIN
    -- A first attempt creates the row as an already-forgotten streak, so that the next statement
    -- always has a row to lock; a concurrent first attempt waits here for this one to commit.
    INSERT INTO signin_failures (email_hash, failures, locked_until, expires_at)
    VALUES (p_email_hash, 1, NULL, now())
    ON CONFLICT (email_hash) DO NOTHING;
    SELECT * INTO before FROM signin_failures WHERE email_hash = p_email_hash FOR UPDATE;

    IF before.locked_until > now() THEN
        locked_for := extract(epoch FROM before.locked_until - now());
        RETURN;
    END IF;
    streak := CASE WHEN before.expires_at > now() THEN before.failures ELSE 0 END + 1;
    locks := streak >= free_failures;
    UPDATE signin_failures SET
        failures = streak,
        locked_until = CASE WHEN locks
                            THEN now() + make_interval(secs => least(power(2, streak - free_failures),
                                                                      max_lock_secs))
                       END,
        expires_at = now() + forget_after
    WHERE email_hash = p_email_hash;
END
$$;
