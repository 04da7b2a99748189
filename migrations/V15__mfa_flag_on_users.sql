-- Issue 17: every authenticated read returns whether the account has TOTP on; it was a subquery
-- of `mfa_totp` in the read's statement (a fourth index probe beside the session, the account
-- and the revoked tokens). The flag now lives on the account's row, kept by the database itself.

ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;

UPDATE users u SET mfa_enabled = true
WHERE EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL);

-- The flag's one rule: `users.mfa_enabled` is whether the account has a confirmed TOTP secret.
-- Whatever changes `mfa_totp` (confirming, disabling, an operator's reset, an enrolment replacing
-- a pending secret, a deleted account's cascade) changes the flag in the same transaction; no
-- code writes it. Every change of one account's TOTP touches its one row (`user_id` is the key),
-- so concurrent changes are serialized by that row's lock and the last one sets the flag.
CREATE FUNCTION keep_users_mfa_enabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only a flag that differs from the truth is written (flipped).
    UPDATE users u
    SET mfa_enabled = NOT u.mfa_enabled
    WHERE u.id IN (OLD.user_id, NEW.user_id)
      AND u.mfa_enabled IS DISTINCT FROM EXISTS (
          SELECT 1 FROM mfa_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_mfa_enabled_follows_totp
AFTER INSERT OR DELETE OR UPDATE OF user_id, confirmed_at ON mfa_totp
FOR EACH ROW EXECUTE FUNCTION keep_users_mfa_enabled();
