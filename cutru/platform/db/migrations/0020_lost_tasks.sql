-- Effects of a workflow task that was lost (docs/reliability.md, lost workflow tasks).
--
-- The state a withdrawal, an operator's close or a cancellation is taking the dossier to, set under the commit's
-- lock once the database found no record commit of the dossier (activities/dossier.py, settle_closing): a commit
-- begun afterwards (by a workflow task that was lost and still runs) finds it and changes nothing.
ALTER TABLE dossiers ADD COLUMN closing text;

-- The audit rows a lost workflow task wrote that the dossier's history does not hold (its key is not in the
-- history, or the history holds another entry under it): found at the dossier's final write, which restates the
-- history's entry under a key of its own where the lost one took its key. audit_events stays append-only; the trail
-- is read through this table (activities/trail.py), and auditors see these rows marked, not hidden.
CREATE TABLE audit_superseded (
    dossier_code  text NOT NULL,
    event_key     text NOT NULL,
    reason        text NOT NULL CHECK (reason IN ('not_in_history', 'differs_from_history')),
    superseded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dossier_code, event_key)
);

CREATE FUNCTION audit_superseded_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_superseded is append-only';
END
$$;
CREATE TRIGGER audit_superseded_no_change BEFORE UPDATE OR DELETE ON audit_superseded
    FOR EACH ROW EXECUTE FUNCTION audit_superseded_append_only();

GRANT SELECT, INSERT ON audit_superseded TO cutru_worker;
GRANT SELECT ON audit_superseded TO cutru_api;
