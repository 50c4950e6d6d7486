-- Operators re-send what the outbox could not deliver (issue 23, cutru/api/notifications.py), and officers are told
-- of reminders and escalations by e-mail too (issue 22), through the same outbox.

-- The operators' list of given-up messages, oldest first, without reading every message ever sent.
CREATE INDEX notifications_failed ON notifications (created_at) WHERE status = 'failed';

-- A re-queue puts a failed message back to pending, or a refused shipment due at once, its attempts afresh.
GRANT UPDATE (status, attempts, next_attempt_at) ON notifications TO cutru_api;
GRANT UPDATE (attempts, next_attempt_at, last_error, updated_at) ON shipments TO cutru_api;

-- An officer's work address (the roster's; none: the desk's inbox only).
ALTER TABLE officers ADD COLUMN email text CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$');

-- A message to an officer names them; a citizen's names nobody (the dossier's contact is the address).
ALTER TABLE notifications ADD COLUMN officer_id text REFERENCES officers;

-- Each new desk notice to an officer with an address becomes their e-mail, in the notice's transaction. The notice is
-- written once per dossier, kind, deadline and officer whatever the retries, and its id makes the message's key:
-- one e-mail per notice and recipient.
CREATE FUNCTION outbox_from_desk_notices() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $$
BEGIN
    INSERT INTO notifications (dossier_code, step, kind, channel, officer_id)
    SELECT n.dossier_code, 'notice-' || n.notice_id, 'officer_' || n.kind, 'email', n.officer_id
    FROM added n JOIN officers o ON o.officer_id = n.officer_id AND o.email IS NOT NULL
    ON CONFLICT (dossier_code, step, channel) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER desk_notices_outbox AFTER INSERT ON desk_notices REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_from_desk_notices();
