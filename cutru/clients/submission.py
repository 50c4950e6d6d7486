"""A submission checked before anything starts. Apart from the Temporal client (``cutru.clients.client``, which
re-exports it) so that a command refusing a file does not import the workflows first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from domain.models import SubmissionBase
from domain.procedures.catalogue import field_errors, parse_submission

# A clock a few minutes off between the portal and us is normal; a receipt time beyond that is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


class SubmissionRejected(ValueError):
    """The submission is invalid; ``errors`` are ``field.path: message`` lines. Nothing was started."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid submission:\n  " + "\n  ".join(errors))
        self.errors = errors


def check_submission(raw: Any, now: datetime | None = None) -> SubmissionBase:
    """Validate before anything starts: field-level errors, and no receipt time in the future."""
    try:
        submission = raw if isinstance(raw, SubmissionBase) else parse_submission(raw)
    except ValidationError as error:
        raise SubmissionRejected(field_errors(error)) from error
    now = now or datetime.now(UTC)
    if submission.received_at > now + CLOCK_SKEW:
        raise SubmissionRejected([f"received_at: {submission.received_at.isoformat()} is in the future"])
    return submission
