-- The residence domain and the dossier read model.
-- Uniqueness on dossier_code in every side-effect table is what makes a retried activity a no-op.

CREATE TABLE police_units (
    unit_code      text PRIMARY KEY,            -- 'CA-' || commune (ward) code, e.g. CA-00070
    name           text NOT NULL,               -- e.g. 'Công an Phường Hoàn Kiếm'
    province_code  text NOT NULL,
    commune_code   text NOT NULL UNIQUE
);

CREATE TABLE officers (
    officer_id     text PRIMARY KEY,            -- e.g. CB-00070-01
    full_name      text NOT NULL,
    unit_code      text NOT NULL REFERENCES police_units,
    role           text NOT NULL CHECK (role IN ('officer', 'supervisor')),
    active         boolean NOT NULL DEFAULT true
);
CREATE INDEX officers_unit ON officers (unit_code);

-- Stand-in for the national population database (CSDLQG về dân cư).
CREATE TABLE people (
    personal_id    char(12) PRIMARY KEY CHECK (personal_id ~ '^[0-9]{12}$'),
    full_name      text NOT NULL,
    birth_date     date NOT NULL,
    sex            text NOT NULL CHECK (sex IN ('male', 'female')),
    status         text NOT NULL DEFAULT 'alive' CHECK (status IN ('alive', 'dead')),
    nationality    text NOT NULL DEFAULT 'VN',
    full_civil_capacity boolean NOT NULL DEFAULT true,
    fee_exemption  text                          -- reason code (Thông tư 75/2022/TT-BTC Điều 4) or NULL
);

-- A legal residence (chỗ ở hợp pháp), as the address the records point at.
CREATE TABLE residences (
    residence_id   bigserial PRIMARY KEY,
    province_code  text NOT NULL,
    commune_code   text NOT NULL,
    address_line   text NOT NULL,
    floor_area_m2  numeric(8, 2) NOT NULL CHECK (floor_area_m2 > 0),
    owner_id       char(12) REFERENCES people,
    barred_reason  text                          -- Điều 23: why registration is barred here, or NULL
);
CREATE INDEX residences_commune ON residences (commune_code);

CREATE TABLE households (
    household_id   bigserial PRIMARY KEY,
    residence_id   bigint NOT NULL REFERENCES residences,
    head_id        char(12) NOT NULL REFERENCES people,
    created_by_dossier text UNIQUE               -- set when a dossier (household separation) created it
);

CREATE TABLE household_members (
    personal_id    char(12) PRIMARY KEY REFERENCES people,   -- a person belongs to one household
    household_id   bigint NOT NULL REFERENCES households,
    relation_to_head text NOT NULL               -- 'head', 'spouse', 'child', 'parent', 'sibling', ...
);
CREATE INDEX household_members_household ON household_members (household_id);

CREATE TABLE permanent_residences (
    record_id      bigserial PRIMARY KEY,
    personal_id    char(12) NOT NULL REFERENCES people,
    residence_id   bigint NOT NULL REFERENCES residences,
    valid_from     date NOT NULL,
    valid_to       date,
    status         text NOT NULL CHECK (status IN ('active', 'ended', 'deleted')),
    dossier_code   text,                         -- the dossier that created this record
    ended_by_dossier text,
    UNIQUE (dossier_code, personal_id)
);
CREATE UNIQUE INDEX permanent_residences_one_active ON permanent_residences (personal_id) WHERE status = 'active';

CREATE TABLE temporary_residences (
    record_id      bigserial PRIMARY KEY,
    personal_id    char(12) NOT NULL REFERENCES people,
    residence_id   bigint NOT NULL REFERENCES residences,
    valid_from     date NOT NULL,
    valid_to       date NOT NULL,
    status         text NOT NULL CHECK (status IN ('active', 'ended', 'deleted')),
    dossier_code   text,
    ended_by_dossier text,
    UNIQUE (dossier_code, personal_id)
);
CREATE UNIQUE INDEX temporary_residences_one_active ON temporary_residences (personal_id) WHERE status = 'active';

-- Read model of the dossiers; the workflow is the source of truth and writes here through activities.
CREATE TABLE dossiers (
    dossier_code   text PRIMARY KEY,
    procedure      text NOT NULL,
    status         text NOT NULL,
    unit_code      text NOT NULL,
    applicant_id   char(12) NOT NULL,
    applicant_name text NOT NULL,
    received_at    timestamptz NOT NULL,
    deadline       timestamptz,
    overdue        boolean NOT NULL DEFAULT false,
    assigned_officer text,
    fee_vnd        integer NOT NULL DEFAULT 0,
    outcome_reason text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dossiers_unit_status ON dossiers (unit_code, status, deadline);

CREATE TABLE payments (
    dossier_code   text PRIMARY KEY,            -- one payment order per dossier, whatever the retries
    order_id       text NOT NULL UNIQUE,
    amount_vnd     integer NOT NULL CHECK (amount_vnd >= 0),
    status         text NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    paid_at        timestamptz
);

-- One committed residence change per dossier: the commit activity inserts here in the same transaction.
CREATE TABLE residence_changes (
    dossier_code   text PRIMARY KEY,
    procedure      text NOT NULL,
    summary        jsonb NOT NULL,
    committed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    dossier_code   text NOT NULL,
    kind           text NOT NULL,               -- CT03 … CT08
    sha256         char(64) NOT NULL,
    path           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dossier_code, kind)
);

CREATE TABLE deliveries (
    dossier_code   text PRIMARY KEY,            -- one delivery of the result per dossier
    method         text NOT NULL CHECK (method IN ('electronic', 'postal')),
    destination    text NOT NULL,
    documents      text[] NOT NULL,
    delivered_at   timestamptz NOT NULL DEFAULT now()
);

-- Append-only: the trigger refuses UPDATE and DELETE.
CREATE TABLE audit_events (
    event_id       bigserial PRIMARY KEY,
    dossier_code   text NOT NULL,
    event_key      text NOT NULL,               -- makes a retried write a no-op
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,
    action         text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (dossier_code, event_key)
);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
