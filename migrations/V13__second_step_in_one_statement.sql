-- Issue 17: a sign-in's second step opens its session in the statement that spends its proof,
-- so that the step is two statements (the challenge read, then this), not a transaction of five.

-- The second step's one rule: the sign-in's live challenge and its proof are spent together, or
-- neither is. The proof is a TOTP time step later than every step accepted (`p_step`, through
-- `accept_totp_step`) or an unused recovery code of the account (`p_recovery`). The challenge's
-- row is locked first, so of two requests with one challenge the second finds it used.
-- `verdict`: 'ok' (and, for a recovery code, the unused codes left), 'no_challenge' (used,
-- expired or killed) or 'wrong' (a step accepted before, a code not the account's: nothing is
-- spent, the challenge stays). Without a challenge (a sign-in with one factor) there is nothing
-- to spend: 'ok'.
CREATE FUNCTION spend_second_factor(p_challenge bytea, p_max_wrong integer, p_step bigint,
                                    p_recovery bytea, OUT verdict text, OUT codes_left bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_user uuid;
BEGIN
    IF p_challenge IS NULL THEN
        verdict := 'ok';
        RETURN;
    END IF;
    SELECT user_id INTO v_user FROM mfa_challenges
    WHERE token_hash = p_challenge AND used_at IS NULL AND expires_at > now()
      AND wrong_codes < p_max_wrong
    FOR UPDATE;
    IF NOT FOUND THEN
        verdict := 'no_challenge';
        RETURN;
    END IF;
    IF p_step IS NOT NULL THEN
        IF NOT accept_totp_step(v_user, p_step) THEN
            verdict := 'wrong';
            RETURN;
        END IF;
    ELSE
        UPDATE mfa_recovery_codes SET used_at = now()
        WHERE user_id = v_user AND code_hash = p_recovery AND used_at IS NULL;
        IF NOT FOUND THEN
            verdict := 'wrong';
            RETURN;
        END IF;
        SELECT count(*) INTO codes_left FROM mfa_recovery_codes
        WHERE user_id = v_user AND used_at IS NULL;
    END IF;
    UPDATE mfa_challenges SET used_at = now() WHERE token_hash = p_challenge;
    verdict := 'ok';
END;
$$;
