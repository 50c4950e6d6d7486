-- Indexes that keep each hot read to its own rows at national scale (measured with EXPLAIN on 2 M dossiers, 1.5 M
-- residence records, 300 k households: tests/integration/test_queries_at_scale.py).
-- IF [NOT] EXISTS: on a populated database an operator may build them beforehand with CREATE INDEX CONCURRENTLY
-- (which cannot run in the migration's transaction) so that this migration does not hold writes back.

-- activities.facts.residence_at: the household living at a residence (was a scan of every household in the
-- country) and the address within its commune (was every residence of the commune).
CREATE INDEX IF NOT EXISTS households_residence ON households (residence_id);
CREATE INDEX IF NOT EXISTS residences_commune_address ON residences (commune_code, lower(address_line));

-- cutru.platform.metrics overdue gauge: a dossier finished late keeps overdue = true, so the index of 0003 held every late
-- dossier ever; leading with the status, the gauge seeks the open ones only.
CREATE INDEX IF NOT EXISTS dossiers_overdue_open ON dossiers (status, unit_code) WHERE overdue;
DROP INDEX IF EXISTS dossiers_overdue_by_unit;
