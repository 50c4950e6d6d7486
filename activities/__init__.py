"""Every side effect of the dossier lifecycle, as idempotent Temporal activities keyed by the dossier code."""
