"""Each procedure's submission: the common part (``SubmissionBase``) plus the procedure's ``details``.

A submission file under ``examples/`` is exactly one of these models as JSON, and exactly the workflow input.
Details hold only what the citizen (or the notifying host, or the police for a notice) states: what the national
population and residence databases already know is never asked again (Luật Cư trú 2020, Điều 6 khoản 2); the
rules (``domain.eligibility``) look it up in the facts loaded from the databases.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError, model_validator

from domain.calendar import local_date
from domain.identity import personal_id_problems
from domain.models import (
    Address,
    AwareDatetime,
    Boundary,
    DossierCode,
    PersonalId,
    Sex,
    SubmissionBase,
    a_person_name,
)
from domain.procedures import Procedure


class _Details(Boundary):
    """Base of every details model (``Boundary`` refuses text that PostgreSQL cannot store)."""


Relation = Literal["spouse", "child", "parent", "sibling", "grandchild", "nephew_niece", "ward", "other_relative"]
OfficerId = Annotated[str, Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")]
_Text = Annotated[str, Field(min_length=3, max_length=300)]


class PermanentResidenceDetails(_Details):
    """Đăng ký thường trú (Luật Cư trú Điều 20): on which legal basis, and where."""

    basis: Literal["own_residence", "join_relative", "rented_or_borrowed"]
    residence: Address
    relation_to_head: Relation | None = Field(
        default=None, description="for join_relative: the applicant's relation to the household head"
    )
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


# ---- deletions (Điều 24, Điều 29) ----------------------------------------------------------------------------


class PermanentDeletionCase(StrEnum):
    """Cases of Luật Cư trú Điều 24 khoản 1 (xóa đăng ký thường trú). Further cases are UNCONFIRMED."""

    DEATH = "death"  # a) chết
    DECLARED_MISSING_OR_DEAD = "declared_missing_or_dead"  # a) Tòa án tuyên bố mất tích hoặc đã chết
    SETTLED_ABROAD = "settled_abroad"  # b) ra nước ngoài để định cư
    CANCELLATION_DECISION = "cancellation_decision"  # c) quyết định hủy bỏ đăng ký thường trú
    ABSENT_12_MONTHS = "absent_12_months"  # d) vắng mặt liên tục từ 12 tháng trở lên
    LOST_NATIONALITY = "lost_nationality"  # đ) thôi, bị tước quốc tịch Việt Nam
    HOUSING_ENDED = "housing_ended"  # e) hết thuê, mượn, ở nhờ; 12 tháng chưa đăng ký nơi mới
    RESIDENCE_TRANSFERRED = "residence_transferred"  # g) chỗ ở đã chuyển quyền sở hữu; 12 tháng chưa đăng ký nơi mới


class TemporaryDeletionCase(StrEnum):
    """Cases of Luật Cư trú Điều 29 khoản 1 (xóa đăng ký tạm trú).

    Death (or a court declaration) and loss of nationality are confirmed by the specification; the others are
    UNCONFIRMED readings of the same article. The six-month absence case is not offered: its threshold is not
    in the rule sets.
    """

    DEATH = "death"
    DECLARED_MISSING_OR_DEAD = "declared_missing_or_dead"
    LOST_NATIONALITY = "lost_nationality"
    CANCELLATION_DECISION = "cancellation_decision"  # UNCONFIRMED
    REGISTERED_PERMANENT_HERE = "registered_permanent_here"  # UNCONFIRMED: now a permanent resident at that place
    HOUSING_ENDED = "housing_ended"  # UNCONFIRMED: tenancy or loan ended (the landlord notifies)
    RESIDENCE_TRANSFERRED = "residence_transferred"  # UNCONFIRMED: new owner does not consent


class PoliceNotice(_Details):
    """The police detected a deletion case and notified the person or household (thông báo của Công an cấp xã).

    A dossier carrying a notice is opened by the police: if nothing is filed within the days the rule set allows
    after ``notified_on``, the registration is deleted ex officio (xóa đăng ký đương nhiên, with minutes).
    """

    notice_number: str = Field(min_length=1, max_length=40)
    notified_on: date
    officer_id: OfficerId


class CitizenFiling(_Details):
    """Signal ``citizen_filed`` to a notice's deletion dossier: the person filed their own dossier in time."""

    dossier_code: DossierCode


class _Deletion(_Details):
    subject_id: PersonalId | None = Field(
        default=None, description="the person whose registration is deleted, when not the applicant"
    )
    event_date: date = Field(description="when the case arose (death, emigration, decision, end of tenancy …)")
    police_notice: PoliceNotice | None = None

    @model_validator(mode="after")
    def _notice_after_event(self) -> _Deletion:
        if self.police_notice is not None and self.police_notice.notified_on < self.event_date:
            raise ValueError("police_notice.notified_on is before event_date: the police notify a case that arose")
        return self


class PermanentResidenceDeletionDetails(_Deletion):
    """Xóa đăng ký thường trú (Điều 24)."""

    case: PermanentDeletionCase


class TemporaryResidenceDeletionDetails(_Deletion):
    """Xóa đăng ký tạm trú (Điều 29)."""

    case: TemporaryDeletionCase


class _DeletionSubmission(SubmissionBase):
    details: _Deletion

    @model_validator(mode="after")
    def _not_after_receipt(self) -> _DeletionSubmission:
        received = local_date(self.received_at)
        if self.details.event_date > received:
            raise ValueError("details.event_date is after the dossier was received")
        notice = self.details.police_notice
        if notice is not None and notice.notified_on > received:
            raise ValueError("details.police_notice.notified_on is after the dossier was received")
        return self

    @property
    def subject_id(self) -> str:
        return self.details.subject_id or self.applicant.personal_id


class PermanentResidenceDeletionSubmission(_DeletionSubmission):
    procedure: Literal[Procedure.PERMANENT_RESIDENCE_DELETION] = Procedure.PERMANENT_RESIDENCE_DELETION
    details: PermanentResidenceDeletionDetails


class TemporaryResidenceDeletionSubmission(_DeletionSubmission):
    procedure: Literal[Procedure.TEMPORARY_RESIDENCE_DELETION] = Procedure.TEMPORARY_RESIDENCE_DELETION
    details: TemporaryResidenceDeletionDetails


# ---- temporary residence (Điều 27–28) ------------------------------------------------------------------------


class TemporaryResidenceRegistrationDetails(_Details):
    """Đăng ký tạm trú (Điều 27): where, on which basis, until when (at most the rule set's maximum term).

    Registration by list (đăng ký theo danh sách, per-person fee) is rule data only: a list is filed as one
    dossier per person here.
    """

    basis: Literal["own_residence", "join_relative", "rented_or_borrowed"]
    residence: Address
    relation_to_head: Relation | None = None
    requested_until: date = Field(description="last day of the requested term")

    @model_validator(mode="after")
    def _basis_needs(self) -> TemporaryResidenceRegistrationDetails:
        if self.basis == "join_relative" and self.relation_to_head is None:
            raise ValueError("relation_to_head is required when joining a relative (Điều 20 khoản 2)")
        return self


class TemporaryResidenceRegistrationSubmission(SubmissionBase):
    procedure: Literal[Procedure.TEMPORARY_RESIDENCE_REGISTRATION] = Procedure.TEMPORARY_RESIDENCE_REGISTRATION
    details: TemporaryResidenceRegistrationDetails

    @model_validator(mode="after")
    def _term_after_receipt(self) -> TemporaryResidenceRegistrationSubmission:
        if self.details.requested_until <= local_date(self.received_at):
            raise ValueError("details.requested_until must be after the day the dossier is received")
        return self


class TemporaryResidenceExtensionDetails(_Details):
    """Gia hạn tạm trú (Điều 28 khoản 3): the new end of the term; a household member may renew for another."""

    subject_id: PersonalId | None = Field(
        default=None, description="the person whose term is extended, when a household member renews for them"
    )
    requested_until: date


class TemporaryResidenceExtensionSubmission(SubmissionBase):
    procedure: Literal[Procedure.TEMPORARY_RESIDENCE_EXTENSION] = Procedure.TEMPORARY_RESIDENCE_EXTENSION
    details: TemporaryResidenceExtensionDetails

    @property
    def subject_id(self) -> str:
        return self.details.subject_id or self.applicant.personal_id


# ---- households (Điều 25–26) ---------------------------------------------------------------------------------


class SeparatingMember(_Details):
    personal_id: PersonalId
    relation_to_new_head: Literal["head"] | Relation


class DivorceProof(_Details):
    """Divorced spouses staying at the same residence (Điều 25 khoản 2): proof of divorce and of the right to stay."""

    divorce_proven: Literal[True]
    right_to_use_residence_proven: bool


class HouseholdSeparationDetails(_Details):
    """Tách hộ (Điều 25): who splits off from the applicant's household, and who heads the new one."""

    members: tuple[SeparatingMember, ...] = Field(min_length=1, max_length=20)
    divorce: DivorceProof | None = None

    @model_validator(mode="after")
    def _one_new_head(self) -> HouseholdSeparationDetails:
        ids = [m.personal_id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("members: each person is listed once")
        if sum(m.relation_to_new_head == "head" for m in self.members) != 1:
            raise ValueError("members: exactly one member is the head of the new household (relation 'head')")
        return self

    @property
    def new_head_id(self) -> str:
        return next(m.personal_id for m in self.members if m.relation_to_new_head == "head")


class HouseholdSeparationSubmission(SubmissionBase):
    procedure: Literal[Procedure.HOUSEHOLD_SEPARATION] = Procedure.HOUSEHOLD_SEPARATION
    details: HouseholdSeparationDetails


class ResidenceInfoAdjustmentDetails(_Details):
    """Điều chỉnh thông tin về cư trú (Điều 26): a new household head, a civil-status change, or an address change."""

    change: Literal["household_head", "civil_status", "address"]
    new_head_id: PersonalId | None = None
    new_full_name: Annotated[str, AfterValidator(a_person_name)] | None = Field(
        default=None, min_length=2, max_length=100
    )
    civil_status_source: Literal["paper_extract", "electronic_civil_status_db"] = Field(
        default="paper_extract",
        description="where the civil-status change comes from: a paper extract (trích lục) or the electronic "
        "civil-status database, in which case no procedure is needed",
    )
    civil_status_extract_number: str | None = Field(default=None, max_length=60)
    new_address_line: str | None = Field(default=None, min_length=3, max_length=200)

    @model_validator(mode="after")
    def _change_needs(self) -> ResidenceInfoAdjustmentDetails:
        needs = {"household_head": "new_head_id", "civil_status": "new_full_name", "address": "new_address_line"}
        if getattr(self, needs[self.change]) is None:
            raise ValueError(f"{needs[self.change]} is required for a {self.change} change")
        return self


class ResidenceInfoAdjustmentSubmission(SubmissionBase):
    procedure: Literal[Procedure.RESIDENCE_INFO_ADJUSTMENT] = Procedure.RESIDENCE_INFO_ADJUSTMENT
    details: ResidenceInfoAdjustmentDetails


# ---- declarations, confirmation, stays, absences (Điều 17, 19, 30, 31) ---------------------------------------


class ResidenceDeclarationDetails(_Details):
    """Khai báo thông tin về cư trú (Điều 19): a person eligible for neither registration declares where they live."""

    current_place: Address
    reason_not_registered: _Text


class ResidenceDeclarationSubmission(SubmissionBase):
    procedure: Literal[Procedure.RESIDENCE_DECLARATION] = Procedure.RESIDENCE_DECLARATION
    details: ResidenceDeclarationDetails


class ResidenceConfirmationDetails(_Details):
    """Xác nhận thông tin về cư trú: any commune police station confirms the applicant's recorded residence."""

    purpose: str | None = Field(default=None, max_length=300)


class ResidenceConfirmationSubmission(SubmissionBase):
    procedure: Literal[Procedure.RESIDENCE_CONFIRMATION] = Procedure.RESIDENCE_CONFIRMATION
    details: ResidenceConfirmationDetails = ResidenceConfirmationDetails()


class Guest(_Details):
    """A guest of a stay notification: name, birth date, and a personal ID or a passport number (Điều 30 khoản 4)."""

    full_name: Annotated[str, AfterValidator(a_person_name)] = Field(min_length=2, max_length=100)
    birth_date: date
    sex: Sex
    personal_id: PersonalId | None = None
    passport_number: str | None = Field(default=None, pattern=r"^[A-Z0-9]{6,12}$")

    @model_validator(mode="after")
    def _identified(self) -> Guest:
        if self.personal_id is None and self.passport_number is None:
            raise ValueError("a guest is identified by personal_id or passport_number")
        if self.personal_id is not None and (problems := personal_id_problems(self.personal_id, self.birth_date,
                                                                              self.sex)):
            raise ValueError("personal_id: " + "; ".join(problems))
        return self


class StayNotificationDetails(_Details):
    """Thông báo lưu trú (Điều 30, sửa đổi 2025): who stays where, from when, until when, and why."""

    host_kind: Literal["household", "hotel", "hospital", "dormitory", "industrial_zone_lodging", "vehicle", "guest"]
    place: Address
    guests: tuple[Guest, ...] = Field(min_length=1, max_length=200, description="hospitals list their in-patients")
    arrival: AwareDatetime
    departure: date
    reason: _Text
    repeated_relative_visits: bool = Field(
        default=False, description="one notice for repeated stays of close relatives (when the rule set allows it)"
    )

    @model_validator(mode="after")
    def _departure_after_arrival(self) -> StayNotificationDetails:
        if self.departure < local_date(self.arrival):
            raise ValueError("departure is before the day of arrival")
        return self


class StayNotificationSubmission(SubmissionBase):
    procedure: Literal[Procedure.STAY_NOTIFICATION] = Procedure.STAY_NOTIFICATION
    details: StayNotificationDetails


class TemporaryAbsenceDeclarationDetails(_Details):
    """Khai báo tạm vắng (Điều 31): category (a)–(d), period, destination, reason (printed on CT03)."""

    category: Literal["a", "b", "c", "d"]
    absence_from: date
    absence_to: date
    destination: _Text
    reason: _Text

    @model_validator(mode="after")
    def _period(self) -> TemporaryAbsenceDeclarationDetails:
        if self.absence_to < self.absence_from:
            raise ValueError("absence_to is before absence_from")
        return self


class TemporaryAbsenceDeclarationSubmission(SubmissionBase):
    procedure: Literal[Procedure.TEMPORARY_ABSENCE_DECLARATION] = Procedure.TEMPORARY_ABSENCE_DECLARATION
    details: TemporaryAbsenceDeclarationDetails


Submission = Annotated[
    PermanentResidenceRegistrationSubmission
    | PermanentResidenceDeletionSubmission
    | TemporaryResidenceRegistrationSubmission
    | TemporaryResidenceExtensionSubmission
    | TemporaryResidenceDeletionSubmission
    | HouseholdSeparationSubmission
    | ResidenceInfoAdjustmentSubmission
    | ResidenceDeclarationSubmission
    | ResidenceConfirmationSubmission
    | StayNotificationSubmission
    | TemporaryAbsenceDeclarationSubmission,
    Field(discriminator="procedure"),
]

SUBMISSION_MODELS: dict[Procedure, type[SubmissionBase]] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: PermanentResidenceRegistrationSubmission,
    Procedure.PERMANENT_RESIDENCE_DELETION: PermanentResidenceDeletionSubmission,
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: TemporaryResidenceRegistrationSubmission,
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: TemporaryResidenceExtensionSubmission,
    Procedure.TEMPORARY_RESIDENCE_DELETION: TemporaryResidenceDeletionSubmission,
    Procedure.HOUSEHOLD_SEPARATION: HouseholdSeparationSubmission,
    Procedure.RESIDENCE_INFO_ADJUSTMENT: ResidenceInfoAdjustmentSubmission,
    Procedure.RESIDENCE_DECLARATION: ResidenceDeclarationSubmission,
    Procedure.RESIDENCE_CONFIRMATION: ResidenceConfirmationSubmission,
    Procedure.STAY_NOTIFICATION: StayNotificationSubmission,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: TemporaryAbsenceDeclarationSubmission,
}

_ADAPTER: TypeAdapter[Submission] = TypeAdapter(Submission)


def parse_submission(raw: object) -> Submission:
    """Validate any procedure's submission; raises ``pydantic.ValidationError`` with field-level errors."""
    return _ADAPTER.validate_python(raw)


def submission_model(procedure: Procedure) -> type[SubmissionBase]:
    return SUBMISSION_MODELS[procedure]


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
