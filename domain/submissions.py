"""Each procedure's submission: the common part (``SubmissionBase``) plus the procedure's ``details``.

A submission file under ``examples/`` is exactly one of these models as JSON, and exactly the workflow input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from domain.models import Address, Boundary, PersonalId, SubmissionBase
from domain.procedures import Procedure


class PermanentResidenceDetails(Boundary):
    """Đăng ký thường trú (Luật Cư trú Điều 20): on which legal basis, and where."""

    basis: Literal["own_residence", "join_relative", "rented_or_borrowed"]
    residence: Address
    relation_to_head: Literal[
        "spouse", "child", "parent", "sibling", "grandchild", "nephew_niece", "ward", "other_relative"
    ] | None = Field(default=None, description="for join_relative: the applicant's relation to the household head")
    declared_floor_area_m2: Decimal | None = Field(default=None, gt=0, le=100_000)
    contract_certified: bool = Field(default=False, description="rented/borrowed: contract notarised or certified")
    owner_id: PersonalId | None = Field(default=None, description="owner of the residence, when not the applicant")

    @model_validator(mode="after")
    def _basis_needs(self) -> PermanentResidenceDetails:
        if self.basis == "join_relative" and self.relation_to_head is None:
            raise ValueError("relation_to_head is required when joining a relative (Điều 20 khoản 2)")
        return self


class PermanentResidenceRegistrationSubmission(SubmissionBase):
    procedure: Literal[Procedure.PERMANENT_RESIDENCE_REGISTRATION] = Procedure.PERMANENT_RESIDENCE_REGISTRATION
    details: PermanentResidenceDetails


Submission = Annotated[
    PermanentResidenceRegistrationSubmission,
    Field(discriminator="procedure"),
]

SUBMISSION_MODELS: dict[Procedure, type[SubmissionBase]] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: PermanentResidenceRegistrationSubmission,
}

_ADAPTER: TypeAdapter[Submission] = TypeAdapter(Submission)


def parse_submission(raw: object) -> SubmissionBase:
    """Validate any procedure's submission; raises ``pydantic.ValidationError`` with field-level errors."""
    return _ADAPTER.validate_python(raw)


def submission_model(procedure: Procedure) -> type[SubmissionBase]:
    return SUBMISSION_MODELS[procedure]


def field_errors(error: ValidationError) -> list[str]:
    """``field.path: message`` lines a person can act on."""
    lines = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(submission)"
        lines.append(f"{location}: {item['msg']}")
    return lines
