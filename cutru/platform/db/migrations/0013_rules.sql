-- What operators and provinces declare, as data with the decision that made it (docs/rules.md). Both tables are
-- append-only: a correction is a later row, so what a worker read for a dossier can always be read again.

-- Calendar exceptions the holidays package does not know: an extra day off, or a weekend day worked in exchange
-- (ngày làm bù). The latest row of a day wins; 'withdrawn' takes the day back. The highest declaration_id is the
-- version of the snapshot a dossier's deadline was computed under.
CREATE TABLE calendar_declarations (
    declaration_id bigserial PRIMARY KEY,
    day            date NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('day_off', 'working_day', 'withdrawn')),
    decision       text NOT NULL CHECK (length(decision) BETWEEN 3 AND 300),
    declared_by    text NOT NULL,
    declared_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calendar_declarations_day ON calendar_declarations (day, declaration_id DESC);

-- Settings the law leaves to the province (Luật Cư trú 2020 Điều 20 khoản 3 điểm b: the minimum floor area per
-- person, set by the provincial People's Council, never below the law's). A dossier reads the value in force on the
-- day it was received; the latest declaration of the same effective date wins.
CREATE TABLE provincial_settings (
    setting_id     bigserial PRIMARY KEY,
    province_code  text NOT NULL,
    setting        text NOT NULL CHECK (setting IN ('min_floor_area_per_person_m2')),
    value          numeric(10, 2) NOT NULL CHECK (value > 0),
    effective_from date NOT NULL,
    decision       text NOT NULL CHECK (length(decision) BETWEEN 3 AND 300),
    declared_by    text NOT NULL,
    declared_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provincial_settings_lookup ON provincial_settings (province_code, setting, effective_from DESC,
                                                               setting_id DESC);

-- Co-owners of a residence beyond residences.owner_id, and the one they appointed to consent for all (Luật Cư trú
-- 2020 Điều 20; the specification's "several co-owners: all consent unless they appointed a representative").
CREATE TABLE residence_co_owners (
    residence_id   bigint NOT NULL REFERENCES residences,
    personal_id    char(12) NOT NULL REFERENCES people,
    representative boolean NOT NULL DEFAULT false,
    PRIMARY KEY (residence_id, personal_id)
);

-- Results by SMS or collected at the office, besides an electronic document and the post (domain.models.Delivery).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_method_check,
    ADD CONSTRAINT deliveries_method_check CHECK (method IN ('electronic', 'postal', 'sms', 'at_office'));

-- How the appointment date was counted (domain.deadlines.DeadlineProof), for the status and the desk.
ALTER TABLE dossiers ADD COLUMN deadline_proof jsonb;

GRANT SELECT ON calendar_declarations, provincial_settings, residence_co_owners TO cutru_worker;
