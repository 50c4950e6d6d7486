-- What citizens and other systems are told of each dossier (issue 23): a transactional outbox.
--
-- The rows to send are written by triggers, in the transaction of the write that records the step: a trail entry
-- (audit_events), a payment order (payments), a postal delivery (deliveries). Every path that records a step — the
-- lifecycle's one-statement activities, the stay registers' batches — thus gets its messages atomically, and none can
-- forget them. Temporal activities deliver the rows and mark them (activities/notify.py, workflows/dispatch.py).

-- How the applicant chose to be told, written with the dossier's first row (validate_identity). The portal/VNeID
-- (the events below) tells every citizen; e-mail or SMS besides when chosen. Personal data stays here: Temporal
-- carries only dossier codes and row ids.
CREATE TABLE dossier_contacts (
    dossier_code   text PRIMARY KEY,
    channel        text NOT NULL CHECK (channel IN ('portal', 'email', 'sms')),
    email          text,
    phone          text
);

-- One message per dossier, step and channel, whatever the retries: the key is the idempotency key.
CREATE TABLE notifications (
    notification_id bigserial PRIMARY KEY,
    dossier_code    text NOT NULL,
    step            text NOT NULL,               -- the trail entry's key, 'fee_due' or 'dispatched'
    kind            text NOT NULL,               -- the template: accepted, supplement_requested, fee_due, ...
    channel         text NOT NULL CHECK (channel IN ('email', 'sms')),
    detail          text NOT NULL DEFAULT '',    -- the trail entry's detail (missing papers, a refusal's reason)
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    message_id      text,                        -- the SMTP Message-ID or the SMS gateway's message id
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (dossier_code, step, channel)
);
CREATE INDEX notifications_due ON notifications (channel, next_attempt_at) WHERE status = 'pending';

-- Events for other systems (Standard Webhooks). The sequence is global; it may have gaps (rolled-back
-- transactions), so subscribers replay from a sequence rather than infer loss from a gap.
CREATE TABLE events (
    sequence       bigserial PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    type           text NOT NULL,
    dossier_code   text NOT NULL,
    source         text NOT NULL,                -- what raised it (a trail key, 'fee_due', 'dispatched', ...)
    data           jsonb NOT NULL,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dossier_code, source)
);

CREATE TABLE subscriptions (
    subscription_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client          text NOT NULL CHECK (client IN ('portal', 'payment', 'statistics')),
    url             text NOT NULL,
    secret          text NOT NULL,               -- whsec_ + base64 key: the HMAC key the deliveries are signed with
    event_types     text[] NOT NULL DEFAULT '{}', -- empty: every type
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The delivery log: one row per subscription and event, its attempts, and 'dead' once they are spent.
CREATE TABLE event_deliveries (
    subscription_id uuid NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    sequence        bigint NOT NULL REFERENCES events,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,                     -- the subscriber's HTTP status, NULL when it was unreachable
    last_error      text,
    delivered_at    timestamptz,
    PRIMARY KEY (subscription_id, sequence)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_dead ON event_deliveries (subscription_id, sequence) WHERE status = 'dead';

-- Postal delivery of a result: the shipment at the postal service, and every status it reported.
CREATE TABLE shipments (
    dossier_code    text PRIMARY KEY REFERENCES deliveries,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'in_transit', 'delivered', 'returned')),
    tracking_number text UNIQUE,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_due ON shipments (next_attempt_at) WHERE status IN ('pending', 'accepted', 'in_transit');

CREATE TABLE shipment_statuses (
    dossier_code    text NOT NULL REFERENCES shipments,
    status          text NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (dossier_code, status)
);

-- The event type of each trail action that other systems hear of (NULL: none).
CREATE FUNCTION trail_event_type(action text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE action
        WHEN 'received' THEN 'dossier.received'
        WHEN 'accepted' THEN 'dossier.accepted'
        WHEN 'supplement_requested' THEN 'supplement.requested'
        WHEN 'supplemented' THEN 'supplement.received'
        WHEN 'approved' THEN 'dossier.decided'
        WHEN 'proposed' THEN 'dossier.proposed'
        WHEN 'returned' THEN 'dossier.returned'
        WHEN 'signed_off' THEN 'dossier.decided'
        WHEN 'fee_paid' THEN 'fee.paid'
        WHEN 'completed' THEN 'dossier.completed'
        WHEN 'refused' THEN 'dossier.refused'
        WHEN 'cancelled' THEN 'dossier.cancelled'
        WHEN 'withdrawn' THEN 'dossier.withdrawn'
    END
$$;

-- An event and, for each active subscription that takes its type, its delivery; in the caller's transaction.
-- The data names the dossier and where to read it, never a person (Open Notificaties' way: the subscriber reads
-- the resource with its own authorisation).
CREATE FUNCTION raise_events() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO event_deliveries (subscription_id, sequence)
    SELECT s.subscription_id, e.sequence FROM added e JOIN subscriptions s
        ON s.active AND (s.event_types = '{}' OR e.type = ANY (s.event_types));
    RETURN NULL;
END
$$;
CREATE TRIGGER events_fan_out AFTER INSERT ON events REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION raise_events();

CREATE FUNCTION outbox_from_trail() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO events (type, dossier_code, source, data, occurred_at)
    SELECT trail_event_type(a.action), a.dossier_code, a.event_key,
           jsonb_build_object('dossier_code', a.dossier_code, 'procedure', d.procedure, 'police_unit', d.unit_code,
                              'step', a.action, 'resource', '/v1/dossiers/' || a.dossier_code),
           a.at
    FROM added a LEFT JOIN dossiers d ON d.dossier_code = a.dossier_code
    WHERE trail_event_type(a.action) IS NOT NULL
    ORDER BY a.event_id
    ON CONFLICT (dossier_code, source) DO NOTHING;
    INSERT INTO notifications (dossier_code, step, kind, channel, detail)
    SELECT a.dossier_code, a.event_key, a.action, c.channel, coalesce(a.details ->> 'detail', '')
    FROM added a JOIN dossier_contacts c ON c.dossier_code = a.dossier_code AND c.channel <> 'portal'
    WHERE a.action IN ('accepted', 'supplement_requested', 'refused', 'completed', 'cancelled', 'withdrawn')
    ON CONFLICT (dossier_code, step, channel) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_outbox AFTER INSERT ON audit_events REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_from_trail();

-- A payment order waiting for the citizen: the fee is due (the notification carries the payment link).
CREATE FUNCTION outbox_from_payments() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $$
BEGIN
    INSERT INTO events (type, dossier_code, source, data)
    SELECT 'fee.due', p.dossier_code, 'fee_due',
           jsonb_build_object('dossier_code', p.dossier_code, 'amount_vnd', p.amount_vnd,
                              'resource', '/v1/dossiers/' || p.dossier_code || '/payment')
    FROM added p WHERE p.status = 'pending'
    ON CONFLICT (dossier_code, source) DO NOTHING;
    INSERT INTO notifications (dossier_code, step, kind, channel)
    SELECT p.dossier_code, 'fee_due', 'fee_due', c.channel
    FROM added p JOIN dossier_contacts c ON c.dossier_code = p.dossier_code AND c.channel <> 'portal'
    WHERE p.status = 'pending'
    ON CONFLICT (dossier_code, step, channel) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER payments_outbox AFTER INSERT ON payments REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_from_payments();

-- A result to post: a shipment for the postal service (a withdrawn or cancelled dossier has nothing to post).
CREATE FUNCTION outbox_from_deliveries() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $$
BEGIN
    INSERT INTO shipments (dossier_code) SELECT dossier_code FROM added
    WHERE method = 'postal' AND cardinality(documents) > 0
    ON CONFLICT (dossier_code) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER deliveries_outbox AFTER INSERT ON deliveries REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_from_deliveries();

-- The worker writes the contacts and delivers the outbox; the API manages subscriptions and reads the logs for
-- operators. Neither needs INSERT on the outbox itself: the triggers above write it as the owner.
GRANT SELECT ON dossier_contacts, notifications, events, subscriptions, event_deliveries, shipments,
    shipment_statuses TO cutru_worker;
GRANT INSERT ON dossier_contacts, shipment_statuses, notifications, events TO cutru_worker;
GRANT UPDATE ON notifications, event_deliveries, shipments TO cutru_worker;
GRANT SELECT ON events, subscriptions, event_deliveries, notifications, shipments, shipment_statuses TO cutru_api;
GRANT INSERT, UPDATE ON subscriptions, event_deliveries TO cutru_api;
