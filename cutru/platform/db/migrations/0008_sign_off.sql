-- Who signs a unit's results (CT03, CT07, CT08): its head (Trưởng Công an), or a deputy head (Phó Trưởng Công an)
-- whom the head authorised to sign for them ("KT.", Nghị định 30/2020/NĐ-CP Điều 13). The API reads these at sign
-- time; the printed title follows from the position and the unit (domain.models.Signer), so it is not stored.
ALTER TABLE officers
    ADD COLUMN position text NOT NULL DEFAULT 'officer' CHECK (position IN ('officer', 'deputy_head', 'head')),
    ADD COLUMN signs_for_head boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT officers_only_deputies_sign_for_head CHECK (NOT signs_for_head OR position = 'deputy_head');

-- A form names one head: a unit has at most one active head.
CREATE UNIQUE INDEX officers_one_head ON officers (unit_code) WHERE position = 'head' AND active;

-- Units from before: their supervisor (the first active one) is taken to be the head, as the seed makes them, so
-- that their dossiers can be signed at once; an operator corrects a unit where that is wrong.
UPDATE officers SET position = 'head'
WHERE officer_id IN (
    SELECT DISTINCT ON (unit_code) officer_id FROM officers
    WHERE role = 'supervisor' AND active
    ORDER BY unit_code, officer_id
);
