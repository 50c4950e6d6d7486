-- The workflow each dossier code belongs to: its first run's id (activities/runs.py), or 'stay-register' for a
-- notification a stay register recorded. NULL on rows written before: the first activity of the same procedure
-- that checks the binding takes it.
ALTER TABLE dossiers ADD COLUMN run_id text;
