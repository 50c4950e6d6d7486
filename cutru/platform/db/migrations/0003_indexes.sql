-- Indexes for the hot reads: the overdue gauge of every worker and the occupant counts of the floor-area rule.
CREATE INDEX dossiers_overdue_by_unit ON dossiers (unit_code) WHERE overdue;
CREATE INDEX permanent_residences_active_by_residence ON permanent_residences (residence_id) WHERE status = 'active';
CREATE INDEX temporary_residences_active_by_residence ON temporary_residences (residence_id) WHERE status = 'active';
