"""Officer and supervisor endpoints (queue, dossier view, decide, reassign, escalations)."""

from fastapi import APIRouter

router = APIRouter()
