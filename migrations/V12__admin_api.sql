-- Issue 16, the admin API: every admin call is an audit event naming who made it, a disabled
-- account can open no session by any way in, and an admin's reasons for ending sessions are kept.

-- The acting principal of an admin call: the caller's IAM ARN in AWS, `admin-token` locally.
-- NULL for the events users cause themselves.
ALTER TABLE auth_events ADD COLUMN actor text CHECK (char_length(actor) BETWEEN 1 AND 2048);

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
    'identity_linked', 'identity_unlinked',
    -- New: the admin API's calls, and a disabled account's right password.
    'admin_users_listed', 'admin_user_viewed', 'admin_audit_read',
    'account_disabled', 'account_enabled', 'sessions_revoked', 'mfa_reset',
    'signin_disabled'));

-- The admin's page of the log, newest first, of everyone or of one account.
CREATE INDEX auth_events_user_id_id_idx ON auth_events (user_id, id) WHERE user_id IS NOT NULL;

ALTER TABLE sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoked_reason_check
    CHECK (revoked_reason IN ('logout', 'logout_global', 'ended_by_user', 'refresh_token_reuse',
                              'password_reset', 'password_changed', 'email_changed',
                              'mfa_enabled', 'account_disabled', 'revoked_by_admin'));

-- The one rule for a disabled account: no session opens for it, whichever way in asked (password,
-- second step, passkey, provider). The account's row is locked FOR SHARE until the opening commits,
-- so `disable` (which updates that row first, then ends the sessions in a later statement of its
-- transaction) either comes before the opening and refuses it, or after it and ends the session.
CREATE FUNCTION refuse_session_of_disabled_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.user_id AND disabled_at IS NULL FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % is disabled', NEW.user_id USING ERRCODE = 'AD001';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER sessions_of_enabled_accounts_only BEFORE INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION refuse_session_of_disabled_account();
