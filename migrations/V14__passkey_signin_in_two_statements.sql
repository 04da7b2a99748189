-- Issue 17: a passkey sign-in stores the passkey's new signature counter in the statement that
-- opens its session (`open_session`), so that the sign-in is two statements.

-- The counter rule (V9), in one place: a sign-in stores the passkey (its new counter and backup
-- flags) and marks it used only over an older counter; a counter of 0 (synced passkeys keep
-- none) is no order and always stored. True when stored, and when there is no passkey to store
-- (a sign-in by another way).
CREATE FUNCTION record_passkey_use(p_id uuid, p_passkey jsonb, p_counter bigint) RETURNS boolean
LANGUAGE sql AS $$
    WITH stored AS (
        UPDATE passkeys SET passkey = p_passkey, last_used_at = now()
        WHERE id = p_id
          AND (p_counter = 0 OR coalesce((passkey #>> '{cred,counter}')::bigint, 0) < p_counter)
        RETURNING 1)
    SELECT p_id IS NULL OR EXISTS (SELECT 1 FROM stored)
$$;
