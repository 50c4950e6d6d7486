"""The catalogue: every procedure's definition, collected from its module, and the submission they accept.

Workflows, activities, schemas, the demo and the docs read a procedure here (``PROCEDURES``). A submission file
under ``examples/`` is exactly one procedure's submission model as JSON, and exactly the workflow input. Details
hold only what the citizen (or the notifying host, or the police for a notice) states: what the national
population and residence databases already know is never asked again (Luật Cư trú 2020, Điều 6 khoản 2); the rules
look it up in the facts loaded from the databases.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from domain.kinds import Procedure
from domain.models import SubmissionBase
from domain.procedures import (
    household_separation,
    permanent_residence_deletion,
    permanent_residence_registration,
    residence_confirmation,
    residence_declaration,
    residence_info_adjustment,
    stay_notification,
    temporary_absence_declaration,
    temporary_residence_deletion,
    temporary_residence_extension,
    temporary_residence_registration,
)
from domain.procedures.spec import ProcedureSpec

# In the order of the law's procedure table.
PROCEDURES: dict[Procedure, ProcedureSpec[Any]] = {
    module.SPEC.procedure: module.SPEC
    for module in (
        permanent_residence_registration,
        permanent_residence_deletion,
        temporary_residence_registration,
        temporary_residence_extension,
        temporary_residence_deletion,
        household_separation,
        residence_info_adjustment,
        residence_declaration,
        residence_confirmation,
        stay_notification,
        temporary_absence_declaration,
    )
}
if list(PROCEDURES) != list(Procedure):
    raise RuntimeError("the catalogue must hold every procedure once, in the order of the Procedure enum")

Submission = Annotated[
    permanent_residence_registration.PermanentResidenceRegistrationSubmission
    | permanent_residence_deletion.PermanentResidenceDeletionSubmission
    | temporary_residence_registration.TemporaryResidenceRegistrationSubmission
    | temporary_residence_extension.TemporaryResidenceExtensionSubmission
    | temporary_residence_deletion.TemporaryResidenceDeletionSubmission
    | household_separation.HouseholdSeparationSubmission
    | residence_info_adjustment.ResidenceInfoAdjustmentSubmission
    | residence_declaration.ResidenceDeclarationSubmission
    | residence_confirmation.ResidenceConfirmationSubmission
    | stay_notification.StayNotificationSubmission
    | temporary_absence_declaration.TemporaryAbsenceDeclarationSubmission,
    Field(discriminator="procedure"),
]

_ADAPTER: TypeAdapter[Submission] = TypeAdapter(Submission)


def spec_for(submission: SubmissionBase) -> ProcedureSpec[Any]:
    """The definition of the procedure a validated submission belongs to."""
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    return PROCEDURES[procedure]


def parse_submission(raw: object) -> Submission:
    """Validate any procedure's submission; raises ``pydantic.ValidationError`` with field-level errors."""
    return _ADAPTER.validate_python(raw)


def submission_model(procedure: Procedure) -> type[SubmissionBase]:
    return PROCEDURES[procedure].submission


# An error line is stored (audit trail, CT06) and shown: it must be storable, and must not echo a huge input.
_MAX_LOCATION = 200
_MAX_MESSAGE = 600
_UNKNOWN_PROCEDURE = ("union_tag_invalid", "union_tag_not_found")


def _safe(text: str, limit: int) -> str:
    """Printable and bounded: NUL, control characters and unpaired surrogates become U+FFFD."""
    cleaned = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def field_errors(error: ValidationError) -> list[str]:
    """``field.path: message`` lines a person can act on."""
    lines = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(submission)"
        message = item["msg"]
        if item["type"] in _UNKNOWN_PROCEDURE:
            # Pydantic lists the enum members' reprs and echoes the input; say it plainly instead.
            location, message = "procedure", "must be one of " + ", ".join(p.value for p in Procedure)
        lines.append(f"{_safe(location, _MAX_LOCATION)}: {_safe(message, _MAX_MESSAGE)}")
    return lines
