-- Audit retention: the janitor deletes audit events older than `AUDIT_RETENTION_DAYS`, so rows
-- that unauthenticated callers add cannot grow the table without bound.
--
-- The table stays append-only for everyone else: the trigger lets a row go only through
-- `prune_auth_events` (which flags its own transaction), and only when the row is older than 30
-- days, so neither a caller nor a misconfigured retention can erase recent history.

CREATE OR REPLACE FUNCTION auth_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('auth.pruning_audit', true) = 'on'
       AND OLD.occurred_at < now() - interval '30 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'auth_events is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Deletes the events older than `p_keep_days` (at least 30), returning how many went.
-- SECURITY DEFINER: the role that runs the janitor needs no DELETE on the table.
CREATE FUNCTION prune_auth_events(p_keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    pruned bigint;
BEGIN
    PERFORM set_config('auth.pruning_audit', 'on', true);
    DELETE FROM auth_events
    WHERE occurred_at < now() - make_interval(days => greatest(p_keep_days, 30));
    GET DIAGNOSTICS pruned = ROW_COUNT;
    PERFORM set_config('auth.pruning_audit', 'off', true);
    RETURN pruned;
END
$$;
REVOKE ALL ON FUNCTION prune_auth_events(integer) FROM PUBLIC;

CREATE INDEX auth_events_occurred_at_idx ON auth_events (occurred_at);
