-- Closed dossiers' Temporal histories, exported to the document store (cutru/service/archive.py) so that the
-- auditors' replay and export still answer once the namespace's retention has removed the workflow. One row per
-- workflow run; sha256 names the export in the store (Temporal's history JSON, payloads encrypted as stored), or
-- is NULL when Temporal had no history of the dossier's own to export (a stay recorded by its establishment's
-- register, or a run removed before the export existed): the read model and the audit table still answer for it.
CREATE TABLE history_archive (
    dossier_code   text NOT NULL REFERENCES dossiers,
    run_id         text NOT NULL,
    workflow_type  text NOT NULL,
    sha256         text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes     bigint NOT NULL DEFAULT 0,
    events         integer NOT NULL DEFAULT 0,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dossier_code, run_id)
);

GRANT SELECT, INSERT ON history_archive TO cutru_worker;
GRANT SELECT ON history_archive TO cutru_api;
