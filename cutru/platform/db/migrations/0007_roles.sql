-- Database roles: the workers, the API and reporting each get only what they use; the migrations keep running as
-- the connecting user, who owns every object. The three are NOLOGIN group roles: operators give each process a
-- login of its own that is a member of one of them (docs/production.md, database roles).
--
-- Roles are cluster-wide, so they may exist already: created by a DBA beforehand (the owner then needs no
-- CREATEROLE), or by the migration of another database on the same server, perhaps at this very moment (hence the
-- exception handler: the second CREATE ROLE waits for the first and then fails with a unique violation).
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['cutru_worker', 'cutru_api', 'cutru_reporting'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- Whatever the roles held in this database before, they hold exactly what follows.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM cutru_worker, cutru_api, cutru_reporting;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM cutru_worker, cutru_api, cutru_reporting;
GRANT USAGE ON SCHEMA public TO cutru_worker, cutru_api, cutru_reporting;

-- Reporting reads everything, now and in later migrations, and writes nothing.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO cutru_reporting;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO cutru_reporting;

-- The workers (activities/*.py) read the registers and write dossiers, records, payments, documents and the audit
-- trail; they have no business with the API's idempotency keys or the gateway's callbacks.
GRANT SELECT ON police_units, officers, people, residences, households, household_members, permanent_residences,
    temporary_residences, dossiers, payments, residence_changes, documents, deliveries, audit_events,
    residence_deletions, temporary_residence_extensions, residence_declarations, residence_confirmations,
    stay_notifications, absence_declarations
    TO cutru_worker;
GRANT INSERT, UPDATE ON dossiers, payments, documents, residence_changes, households, permanent_residences,
    temporary_residences, residence_declarations
    TO cutru_worker;
GRANT INSERT, UPDATE, DELETE ON household_members TO cutru_worker;
GRANT UPDATE ON people TO cutru_worker;
GRANT INSERT ON deliveries, residence_deletions, temporary_residence_extensions, residence_confirmations,
    stay_notifications, absence_declarations
    TO cutru_worker;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO cutru_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO cutru_worker;

-- The API (cutru/api/*.py, cutru/clients/*.py) reads the read model, writes its idempotency keys and the gateway's
-- transactions, and reads no personal register. The IPN locks the payment order (SELECT ... FOR UPDATE), which
-- PostgreSQL allows only with UPDATE on one column: created_at, which no decision reads.
GRANT SELECT ON police_units, officers, dossiers, payments, documents, audit_events, api_idempotency,
    payment_transactions
    TO cutru_api;
GRANT INSERT, UPDATE, DELETE ON api_idempotency TO cutru_api;
GRANT INSERT ON payment_transactions TO cutru_api;
GRANT UPDATE (created_at) ON payments TO cutru_api;

-- The audit trail is append-only for both roles that write dossiers: INSERT (and its sequence), never UPDATE or
-- DELETE; the trigger of 0001 refuses those even to the owner.
GRANT INSERT ON audit_events TO cutru_worker, cutru_api;
GRANT USAGE ON SEQUENCE audit_events_event_id_seq TO cutru_api;
