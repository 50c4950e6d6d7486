-- Migration 0012: results anyone can verify, and the channel a dossier came in by (counter intake).

-- Results anyone can verify (docs/verification.md): each CT07 and CT08 carries a code, kept here by the activity that
-- issues the document (activities/delivery.py, reserve_code). The document's SHA-256 is the one ``documents``
-- registers for the dossier and kind; a code whose document is not registered yet is not shown.
CREATE TABLE result_verifications (
    code           char(10) PRIMARY KEY CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{10}$'),  -- Crockford base32, 50 bits
    dossier_code   text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('CT07', 'CT08')),
    unit_code      text NOT NULL,
    issued_at      timestamptz NOT NULL,
    UNIQUE (dossier_code, kind)
);

GRANT SELECT, INSERT ON result_verifications TO cutru_worker;

-- The person's active residence records as a CT07's ``records_fingerprint`` lists them
-- (domain/procedures/residence_confirmation.py, ct07_statements): "P:<id>:<valid_to>,T:<id>:<valid_to>,D:<id>:".
CREATE FUNCTION residence_records_fingerprint(person char(12)) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT coalesce(string_agg(entry, ',' ORDER BY rank), '') FROM (
        SELECT 1 AS rank, 'P:' || record_id || ':' || coalesce(to_char(valid_to, 'YYYY-MM-DD'), '') AS entry
        FROM permanent_residences WHERE personal_id = person AND status = 'active'
        UNION ALL
        SELECT 2, 'T:' || record_id || ':' || coalesce(to_char(valid_to, 'YYYY-MM-DD'), '')
        FROM temporary_residences WHERE personal_id = person AND status = 'active'
        UNION ALL
        SELECT 3, 'D:' || declaration_id || ':'
        FROM residence_declarations WHERE personal_id = person AND status = 'active'
    ) records
$$;

-- What the public verification endpoint may say of a code, and nothing personal: the document's kind, unit, issue
-- time and hash; for a CT07 its end date and whether the person's residence records are still those it stated
-- (NULL: no confirmation recorded for it). SECURITY DEFINER because the API's role reads no personal register: it
-- learns the comparison, never the records.
CREATE FUNCTION verify_result(typed char(10))
RETURNS TABLE (kind text, unit_code text, unit_name text, issued_at timestamptz, sha256 char(64),
               valid_until date, records_unchanged boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT v.kind, v.unit_code, u.name, v.issued_at, d.sha256, c.valid_until,
           c.records_fingerprint = residence_records_fingerprint(c.personal_id)
    FROM result_verifications v
    JOIN documents d ON d.dossier_code = v.dossier_code AND d.kind = v.kind
    LEFT JOIN police_units u ON u.unit_code = v.unit_code
    LEFT JOIN residence_confirmations c ON v.kind = 'CT07' AND c.dossier_code = v.dossier_code
    WHERE v.code = typed
$$;

REVOKE EXECUTE ON FUNCTION verify_result(char) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION residence_records_fingerprint(char) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION verify_result(char) TO cutru_api;

-- Counter intake (docs/officers-and-auditors.md): how each dossier came in — online (a portal), in_person, or
-- assisted (filed online by an officer at the counter, who is recorded) — for the desk and the statistics.
ALTER TABLE dossiers
    ADD COLUMN channel text NOT NULL DEFAULT 'online' CHECK (channel IN ('online', 'in_person', 'assisted')),
    ADD COLUMN filed_by text CHECK ((channel = 'assisted') = (filed_by IS NOT NULL));
