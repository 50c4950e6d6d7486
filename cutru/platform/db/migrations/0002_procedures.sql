-- Records of the ten procedures beyond permanent registration. Like 0001, every side-effect table is keyed or
-- unique by dossier_code, so the commit activity's retry (already claimed in residence_changes) writes nothing twice.

-- Whether the person's data in the national population database has been collected and verified
-- (đã thu thập, xác thực trong CSDLQG về dân cư). When it has not, a residence declaration (Điều 19) and a
-- residence confirmation need verification, which takes longer (their alternative deadlines).
ALTER TABLE people ADD COLUMN identity_verified boolean NOT NULL DEFAULT true;

-- Why a permanent or temporary residence record was deleted (Điều 24, Điều 29), by which dossier, and whether the
-- police deleted it ex officio after a notice or the filing came after the 7 days the law allows.
CREATE TABLE residence_deletions (
    dossier_code   text PRIMARY KEY,
    record_kind    text NOT NULL CHECK (record_kind IN ('permanent', 'temporary')),
    record_id      bigint NOT NULL,
    personal_id    char(12) NOT NULL REFERENCES people,
    deletion_case  text NOT NULL,
    event_date     date NOT NULL,
    ex_officio     boolean NOT NULL,
    filed_late     boolean NOT NULL,
    deleted_on     date NOT NULL
);

-- Each extension of a temporary residence term (gia hạn tạm trú, Điều 28 khoản 3): the term's end before and after.
CREATE TABLE temporary_residence_extensions (
    dossier_code   text PRIMARY KEY,
    record_id      bigint NOT NULL REFERENCES temporary_residences,
    previous_valid_to date NOT NULL,
    new_valid_to   date NOT NULL CHECK (new_valid_to > previous_valid_to)
);

-- Declared current place of residence of a person not eligible to register (khai báo thông tin về cư trú, Điều 19).
CREATE TABLE residence_declarations (
    declaration_id bigserial PRIMARY KEY,
    dossier_code   text NOT NULL UNIQUE,
    personal_id    char(12) NOT NULL REFERENCES people,
    province_code  text NOT NULL,
    commune_code   text NOT NULL,
    address_line   text NOT NULL,
    residence_id   bigint REFERENCES residences,   -- when the place is a recorded residence
    declared_on    date NOT NULL,
    status         text NOT NULL CHECK (status IN ('active', 'ended')),
    ended_by_dossier text
);
CREATE UNIQUE INDEX residence_declarations_one_active ON residence_declarations (personal_id) WHERE status = 'active';

-- What a CT07 residence confirmation states, and until when. ``records_fingerprint`` lists the person's active
-- residence records when it was issued: a different list later means the residence data changed and the CT07 is void.
CREATE TABLE residence_confirmations (
    dossier_code   text PRIMARY KEY,
    personal_id    char(12) NOT NULL REFERENCES people,
    issued_on      date NOT NULL,
    valid_until    date NOT NULL CHECK (valid_until >= issued_on),
    statements     text[] NOT NULL,
    records_fingerprint text NOT NULL
);

-- Stay notifications (thông báo lưu trú, Điều 30): one row per guest. Guests are identified by personal ID or passport.
CREATE TABLE stay_notifications (
    dossier_code   text NOT NULL,
    guest_no       smallint NOT NULL CHECK (guest_no >= 1),
    personal_id    char(12),
    passport_number text,
    full_name      text NOT NULL,
    birth_date     date NOT NULL,
    host_kind      text NOT NULL,
    province_code  text NOT NULL,
    commune_code   text NOT NULL,
    address_line   text NOT NULL,
    arrival        timestamptz NOT NULL,
    departure      date NOT NULL,
    reason         text NOT NULL,
    notified_at    timestamptz NOT NULL,
    notified_late  boolean NOT NULL,
    PRIMARY KEY (dossier_code, guest_no),
    CHECK (personal_id IS NOT NULL OR passport_number IS NOT NULL)
);
CREATE INDEX stay_notifications_commune_arrival ON stay_notifications (commune_code, arrival);
CREATE INDEX stay_notifications_person ON stay_notifications (personal_id) WHERE personal_id IS NOT NULL;

-- Temporary-absence declarations (khai báo tạm vắng, Điều 31) with the CT03 content.
CREATE TABLE absence_declarations (
    dossier_code   text PRIMARY KEY,
    personal_id    char(12) NOT NULL REFERENCES people,
    category       text NOT NULL CHECK (category IN ('a', 'b', 'c', 'd')),
    absence_from   date NOT NULL,
    absence_to     date NOT NULL CHECK (absence_to >= absence_from),
    destination    text NOT NULL,
    reason         text NOT NULL,
    declared_on    date NOT NULL
);
CREATE INDEX absence_declarations_person ON absence_declarations (personal_id, absence_to);
