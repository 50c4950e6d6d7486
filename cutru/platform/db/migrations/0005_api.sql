-- The API's idempotency keys: one row per (token subject, Idempotency-Key), holding the request's SHA-256 and, once
-- the first request succeeded, its answer to replay. A row without status_code is a request still running.
CREATE TABLE api_idempotency (
    subject          text NOT NULL,
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_sha256   char(64) NOT NULL,
    status_code      smallint,
    content_type     text,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, idempotency_key)
);
-- For purging keys past their retention.
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
-- The portal's dossier list pages by receipt time within the caller's units.
CREATE INDEX IF NOT EXISTS dossiers_unit_received ON dossiers (unit_code, received_at, dossier_code);
