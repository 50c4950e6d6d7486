"""Auditor endpoints (trail, replay verdict, history export)."""

from fastapi import APIRouter

router = APIRouter()
