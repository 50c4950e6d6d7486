"""Deterministic orchestration only: one workflow type per procedure over one shared dossier lifecycle."""
