-- The intake outbox (issue 21, cutru/api/outbox.py): the API answers a submission once it is recorded here, in the
-- transaction that links its attachments, and starts the workflow after the commit; a sweeper in every API process
-- starts what was left (Temporal down, a process killed after the commit).
--
-- The submission is personal data: it is kept encrypted under the payload key (AES-256-GCM, as Temporal's payloads,
-- cutru.platform.codec; key_id names the key) and dropped once the workflow has started. The row then stays, without
-- it, as the code's mark (a second submission is "already submitted") until the read model holds the dossier.
CREATE TABLE dossier_intake (
    dossier_code    text PRIMARY KEY,
    procedure       text NOT NULL,
    unit_code       text NOT NULL,
    -- Started on the task queue of the API that recorded it: the replicas of a deployment share theirs, and two
    -- deployments on one database (a staging API on a queue of its own) never start each other's dossiers.
    task_queue      text NOT NULL,
    key_id          text,
    payload         bytea,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- Not before then may anyone else start it: the fast path's lease at first, a sweeper's claim, or a pause
    -- after a failed start.
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    started_at      timestamptz,
    CHECK ((started_at IS NULL) = (payload IS NOT NULL AND key_id IS NOT NULL))
);
CREATE INDEX dossier_intake_due ON dossier_intake (task_queue, next_attempt_at) WHERE started_at IS NULL;
CREATE INDEX dossier_intake_started ON dossier_intake (started_at) WHERE started_at IS NOT NULL;

-- Only the API writes it (records, claims, marks started, and removes what the read model answers for).
GRANT SELECT, INSERT, UPDATE, DELETE ON dossier_intake TO cutru_api;
