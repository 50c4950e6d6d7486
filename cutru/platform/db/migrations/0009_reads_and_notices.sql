-- Who read a dossier's personal data, and the desk's notices to officers.

-- One row per dossier read: who (the token's subject, officer and roles), which dossier, when, and through what
-- (channel: the API, the desk's pages, the codec server; operation: the API operation, the desk page, 'decode').
-- The codec protocol names no workflow: a decode whose payloads name no dossier is one row without a dossier.
-- Append-only like audit_events: the writers hold INSERT only, and the trigger refuses changes even to the owner.
CREATE TABLE personal_data_reads (
    read_id        bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    dossier_code   text,
    subject        text NOT NULL,
    officer_id     text,
    roles          text[] NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('api', 'desk', 'codec')),
    operation      text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX personal_data_reads_dossier ON personal_data_reads (dossier_code, at) WHERE dossier_code IS NOT NULL;
CREATE INDEX personal_data_reads_at ON personal_data_reads (at);

CREATE FUNCTION personal_data_reads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'personal_data_reads is append-only';
END;
$$;
CREATE TRIGGER personal_data_reads_no_change BEFORE UPDATE OR DELETE ON personal_data_reads
    FOR EACH ROW EXECUTE FUNCTION personal_data_reads_append_only();

-- The desk's inbox: a reminder (the deadline is near) or an escalation (it has passed) of one dossier for one
-- officer. The activity that writes the trail entry writes these in the same transaction; the key (dossier, kind,
-- deadline, officer) makes its retry a no-op. Read is the only change the desk makes.
CREATE TABLE desk_notices (
    notice_id      bigserial PRIMARY KEY,
    officer_id     text NOT NULL REFERENCES officers,
    dossier_code   text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('reminder', 'escalation')),
    due            timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    read_at        timestamptz,
    UNIQUE (dossier_code, kind, due, officer_id)
);
CREATE INDEX desk_notices_officer ON desk_notices (officer_id, created_at DESC);
CREATE INDEX desk_notices_unread ON desk_notices (officer_id) WHERE read_at IS NULL;

-- The codec server records its decodes and does nothing else in the database.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cutru_codec') THEN
        BEGIN
            CREATE ROLE cutru_codec NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO cutru_codec;

-- The API and the codec server append reads; the API reads them back for the auditors. Nobody changes one.
GRANT SELECT, INSERT ON personal_data_reads TO cutru_api;
GRANT INSERT ON personal_data_reads TO cutru_codec;
GRANT USAGE ON SEQUENCE personal_data_reads_read_id_seq TO cutru_api, cutru_codec;

-- The workers write notices (and read them for ON CONFLICT); the desk lists them and marks them read.
GRANT SELECT, INSERT ON desk_notices TO cutru_worker;
GRANT SELECT ON desk_notices TO cutru_api;
GRANT UPDATE (read_at) ON desk_notices TO cutru_api;
