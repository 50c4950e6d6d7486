"""The API's own request and response models (the submissions and messages are the domain's, in ``domain``).

Pagination: a list operation takes ``?limit=&cursor=`` and answers ``{items, next_cursor}``; the cursor is opaque
(``encode_cursor``/``decode_cursor``), and ``next_cursor`` is null on the last page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from cutru.api.problems import FieldError, Problem
from domain.deadlines import DeadlineProof
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState, PersonalId

T = TypeVar("T")

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    # pydantic alone also reads a number, or a string of digits, as a Unix time, and a bare date as its midnight.
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise ValueError("expected an RFC 3339 date-time with its offset, such as 2026-01-31T08:00:00+07:00")


# A query parameter documented as ``format: date-time``: that and nothing else.
Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    # As for date-times: pydantic alone reads a number, or a string of digits, as a Unix time.
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError("expected a date such as 2026-01-31")


# A query parameter documented as ``format: date``: that and nothing else.
Day = Annotated[date, BeforeValidator(_day)]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Page(View, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as error:
        raise bad_cursor() from error
    if not isinstance(values, list):
        raise bad_cursor()
    return values


def after_time_and_code(cursor: str | None) -> tuple[datetime | None, str | None]:
    """The (time, dossier_code) a page ordered by a time and the code starts after; (None, None) for the first."""
    if cursor is None:
        return None, None
    values = decode_cursor(cursor)
    if len(values) != 2 or not all(isinstance(value, str) for value in values):
        raise bad_cursor()
    try:
        at = datetime.fromisoformat(values[0])
    except ValueError:
        raise bad_cursor() from None
    if at.tzinfo is None:
        raise bad_cursor()
    return at, values[1]


def bad_cursor() -> Problem:
    return Problem(422, "invalid_cursor", "Invalid cursor", "Con trỏ phân trang không hợp lệ",
                   detail="The cursor is not one this API gave; start again without it.",
                   detail_vi="Con trỏ phân trang không hợp lệ; hãy tải lại từ trang đầu.",
                   errors=[FieldError(field="cursor", message="not a cursor this API gave",
                                      message_vi="Không phải con trỏ do hệ thống cấp")])


# ---------------------------------------------------------------------------------------------- public


class Fee(View):
    online_vnd: int
    in_person_vnd: int
    per_person_by_list_online_vnd: int | None = None
    per_person_by_list_in_person_vnd: int | None = None


class DeadlineInfo(View):
    working_days: float = Field(description="the standard case; 0: accepted at once")
    alternatives: dict[str, str] = Field(default_factory=dict,
                                         description="other cases (verification, complex) and their deadline")


class FormRef(View):
    form: str = Field(description="form code, e.g. CT01")
    title: str
    href: str


class ProcedureSummary(View):
    procedure: Procedure
    vietnamese_name: str
    tthc_code: str
    href: str


class ProcedureInfo(View):
    procedure: Procedure
    vietnamese_name: str
    tthc_code: str
    legal_basis: str
    who_may_file: str
    papers: list[str]
    fee: Fee
    deadline: DeadlineInfo
    officer_review: bool
    results: list[DocumentKind]
    forms: list[FormRef]
    rules_effective_from: date
    submission_schema: str = Field(description="the JSON Schema of this procedure's submission, in schemas/")


# ---------------------------------------------------------------------------------------------- portal


class SubmitReceipt(View):
    dossier_code: str
    procedure: Procedure
    police_unit: str
    received_at: datetime
    already_submitted: bool
    status_href: str


class BatchRequest(View):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1, description="submissions, each as in POST /v1/dossiers (at most CUTRU_API_MAX_BATCH)")


class BatchItemResult(View):
    index: int
    dossier_code: str | None
    result: Literal["accepted", "already_submitted", "rejected"]
    errors: list[FieldError] = Field(default_factory=list)


class BatchResult(View):
    accepted: int
    already_submitted: int
    rejected: int
    items: list[BatchItemResult]


class DocumentInfo(View):
    kind: DocumentKind
    sha256: str
    created_at: datetime
    href: str


class DossierView(View):
    """The citizen-safe status: what the read model says, without personal data, notes or officer ids."""

    dossier_code: str
    procedure: Procedure
    vietnamese_name: str
    status: DossierState
    police_unit: str
    received_at: datetime
    deadline: datetime | None
    overdue: bool
    fee_vnd: int
    outcome_reason: str | None = Field(description="the reason printed on a refusal (CT06) or a cancellation")
    updated_at: datetime
    documents: list[DocumentInfo]
    deadline_proof: DeadlineProof | None = Field(
        default=None, description="how the appointment date was counted: receipt, working days counted, days "
                                  "skipped, pauses for supplements, the rule set used (one dossier's status only)")
    source: Literal["read_model"] = Field(
        default="read_model", description="where this answer comes from: cutru's read model, kept after Temporal's "
                                          "retention has removed the closed workflow")
    history: Literal["temporal", "archive"] | None = Field(
        default=None, description="where the auditors' replay and export read the dossier's history: temporal "
                                  "(not yet exported: open, or closed moments ago) or archive (exported when it "
                                  "closed; what they read once Temporal no longer has it); one dossier's status "
                                  "only")


class ReceiptView(View):
    """The receipt (CT04): received, by whom, and when the result is due."""

    dossier_code: str
    procedure: Procedure
    vietnamese_name: str
    police_unit: str
    police_unit_name: str | None
    received_at: datetime
    appointment: datetime | None = Field(description="the legal deadline: the result is due by then")
    fee_vnd: int
    document: DocumentInfo | None = Field(description="the CT04 PDF, once issued")


class WithdrawalRequest(View):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    applicant_id: PersonalId = Field(description="the personal ID of the applicant, as the portal verified it "
                                                 "(VNeID): only the dossier's own applicant may withdraw it")


class MessageAccepted(View):
    dossier_code: str
    accepted: Literal[True] = True
    message: Literal["supplement", "withdrawal"]


# ---------------------------------------------------------------------------------------------- operators


class Health(View):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class ClosureRequest(BaseModel):
    """An operator's closure: the dossier ends cancelled with this reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="why the dossier is closed: in its trail, the "
                                                                   "audit table and the status the citizen reads")


class ClosureReceipt(View):
    dossier_code: str
    state: DossierState
    closed_by: str
    reason: str
