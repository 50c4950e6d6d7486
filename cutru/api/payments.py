"""The payment gateway callback."""

from fastapi import APIRouter

router = APIRouter()
