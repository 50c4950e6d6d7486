-- Attachments (docs/attachments.md). The files themselves are in the attachment store under their SHA-256; these
-- tables say which files exist, which dossier carries which of them as which paper, and what the officers found.

-- One row per stored file, written once the file passed every check and was committed to the store.
CREATE TABLE attachments (
    sha256       char(64) PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type   text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png', 'image/heic')),
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    scanned_by   text NOT NULL,                  -- which scanner passed it
    uploaded_by  text NOT NULL,                  -- the token subject of the first upload
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);

-- Which dossier carries which file as which paper: written by the API when the dossier is submitted or supplemented.
-- Deleting a dossier's rows releases its files; a file no row references is removed by the purge.
CREATE TABLE dossier_attachments (
    dossier_code    text NOT NULL,
    sha256          char(64) NOT NULL REFERENCES attachments (sha256),
    kind            text NOT NULL,
    file_name       text NOT NULL,
    checklist_item  smallint,                    -- the CT05 checklist item it answers (a supplement)
    attached_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dossier_code, sha256, kind)
);
CREATE INDEX dossier_attachments_sha256 ON dossier_attachments (sha256);

-- The officers' findings on each attached paper, append-only: the latest is the one in force.
CREATE TABLE attachment_findings (
    finding_id    bigserial PRIMARY KEY,
    dossier_code  text NOT NULL,
    sha256        char(64) NOT NULL,
    kind          text NOT NULL,
    accepted      boolean NOT NULL,
    reason        text CHECK (reason IS NULL OR length(reason) <= 1000),
    officer_id    text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (dossier_code, sha256, kind) REFERENCES dossier_attachments (dossier_code, sha256, kind)
        ON DELETE CASCADE,
    CHECK (accepted OR reason IS NOT NULL)
);
CREATE INDEX attachment_findings_paper ON attachment_findings (dossier_code, sha256, kind, finding_id);

GRANT SELECT, INSERT ON attachments, dossier_attachments, attachment_findings TO cutru_api;
GRANT USAGE ON SEQUENCE attachment_findings_finding_id_seq TO cutru_api;
