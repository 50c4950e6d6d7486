"""Boundary models shared by every procedure: the submission's common part and every message of the lifecycle.

Each procedure's own submission (its ``details``) lives in that procedure's module of ``domain.procedures``.
Every model here is what crosses a boundary — workflow input, signal, update, query result or activity
input/output — so each is a pydantic v2 model that refuses bad input with a field-level error.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.admin_units import commune, commune_of_unit, police_unit_code, police_unit_name
from domain.attachments import FILE_NAME_PATTERN, AttachmentKind, MediaType
from domain.calendar import FIRST_YEAR, LAST_YEAR, local_date
from domain.identity import personal_id_problems
from domain.kinds import DocumentKind, Procedure
from domain.rulesets import RULE_SETS

Sex = Literal["male", "female"]
# assisted: filed online by an officer at the station's counter for a citizen who came in (counter intake); the
# online fee applies, as for any dossier filed online.
Channel = Literal["online", "in_person", "assisted"]

PersonalId = Annotated[str, Field(pattern=r"^[0-9]{12}$", description="số định danh cá nhân, 12 digits")]
DOSSIER_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9.-]{5,48}$"
DossierCode = Annotated[
    str,
    Field(
        pattern=DOSSIER_CODE_PATTERN,
        description="mã hồ sơ: upper-case letters, digits, '.' and '-'; also the workflow id",
    ),
]


# One paper in a list (missing or supplemented): printed on CT05, one to 500 characters (DocumentData's limit).
Item = Annotated[str, Field(min_length=1, max_length=500)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-11-27T09:00:00+07:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


# Control characters other than tab and newlines: PostgreSQL refuses NUL in text and jsonb, and none belongs in a
# name, an address, a reason or a list of papers. A value accepted here must be storable everywhere downstream.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _storable(value: Any) -> bool:
    """Whether no text in ``value`` (a text, or a list or tuple of them among other values) has such a character;
    a text is the common case, checked without building anything (this runs on every field of every model)."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is None
    if isinstance(value, tuple | list):
        return not any(isinstance(v, str) and _UNSTORABLE.search(v) for v in value)
    return True


def a_person_name(value: str) -> str:
    """A person's name: letters (with their diacritics), spaces, hyphens and apostrophes."""
    if any(ch.isdigit() or (not ch.isalpha() and ch not in " -'") for ch in value):
        raise ValueError("a name has letters, spaces, hyphens and apostrophes only")
    return value


class Boundary(BaseModel):
    """Strict by default: unknown fields are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if not _storable(value):
            raise ValueError("contains a control character (such as NUL), which cannot be stored")
        return value


class Person(Boundary):
    personal_id: PersonalId
    full_name: str = Field(min_length=2, max_length=100)
    birth_date: date
    sex: Sex

    @model_validator(mode="after")
    def _id_agrees_with_birth_and_sex(self) -> Person:
        problems = personal_id_problems(self.personal_id, self.birth_date, self.sex)
        if problems:
            raise ValueError("personal_id: " + "; ".join(problems))
        return self

    @field_validator("full_name")
    @classmethod
    def _letters_only(cls, value: str) -> str:
        return a_person_name(value)


class Address(Boundary):
    """An address as administrative-unit codes (two levels since 2025-07-01) plus the street line."""

    province_code: str = Field(pattern=r"^[0-9]{2}$")
    commune_code: str = Field(pattern=r"^[0-9]{5}$")
    address_line: str = Field(min_length=3, max_length=200)

    @model_validator(mode="after")
    def _known_unit(self) -> Address:
        unit = commune(self.commune_code)
        if unit is None:
            raise ValueError(f"commune_code {self.commune_code} is not a commune or ward of Vietnam")
        if unit.province_code != self.province_code:
            raise ValueError(
                f"commune_code {self.commune_code} ({unit.name}) belongs to province {unit.province_code}, "
                f"not {self.province_code}"
            )
        return self

    @property
    def police_unit(self) -> str:
        return police_unit_code(self.commune_code)


class ConsentRole(StrEnum):
    HOUSEHOLD_HEAD = "household_head"  # chủ hộ
    OWNER = "owner"  # chủ sở hữu chỗ ở hợp pháp
    PARENT_OR_GUARDIAN = "parent_or_guardian"  # cha, mẹ hoặc người giám hộ
    SUPERVISING_AUTHORITY = "supervising_authority"  # cơ quan quản lý, giám sát (Điều 31)


class Consent(Boundary):
    """Consent given by signing CT01, by confirming in VNeID, or by a separate letter."""

    role: ConsentRole
    personal_id: PersonalId | None = Field(default=None, description="the consenting person; none for an authority")
    authority_name: str | None = Field(default=None, max_length=200)
    given_via: Literal["CT01", "VNeID", "letter"] = "VNeID"


VIETNAMESE_MOBILE = r"(0|\+84)[35789][0-9]{8}"  # mobile prefixes 03, 05, 07, 08, 09 since 2018


class Delivery(Boundary):
    """How the result reaches the citizen: an electronic document (VNeID, e-mail), an SMS, by post, or collected at
    the office (tại trụ sở cơ quan đăng ký cư trú)."""

    method: Literal["electronic", "postal", "sms", "at_office"] = "electronic"
    destination: str = Field(min_length=3, max_length=300,
                             description="VNeID account, e-mail, mobile number (sms), postal address, or the office "
                                         "where the result is collected (at_office)")

    @model_validator(mode="after")
    def _sms_to_a_mobile_number(self) -> Delivery:
        if self.method == "sms" and not re.fullmatch(VIETNAMESE_MOBILE, self.destination):
            raise ValueError("an SMS goes to a Vietnamese mobile number: 0 or +84 then 9 digits")
        return self


class Contact(Boundary):
    """How the applicant is told of each step (receipt, supplement request, fee, result, dispatch).

    The portal and VNeID tell every applicant (they hear cutru's events); ``email`` or ``sms`` sends a message
    besides, to the address given here."""

    channel: Literal["portal", "email", "sms"] = "portal"
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^(0|\+84)[35789][0-9]{8}$",
                              description="a Vietnamese mobile number, 0912345678 or +84912345678")

    @model_validator(mode="after")
    def _address_for_the_channel(self) -> Contact:
        if self.channel == "email" and self.email is None:
            raise ValueError("contact.email: give the e-mail address to send to, or choose another channel")
        if self.channel == "sms" and self.phone is None:
            raise ValueError("contact.phone: give the mobile number to send to, or choose another channel")
        return self


class FeeExemption(Boundary):
    """Thông tư 75/2022/TT-BTC Điều 4; the reason code must be provable from the population data."""

    reason_code: str = Field(min_length=2, max_length=40)


class ProcessingOptions(Boundary):
    """How long a dossier's waits last: the worker's configuration (``Settings.processing``), never the citizen's.

    The defaults suit production; tests, the demo and the harness give their workers shorter ones. The worker
    returns them from ``accept_dossier``, so that they are recorded in each dossier's history and a replay waits
    as the dossier did."""

    payment_timeout: timedelta = Field(default=timedelta(days=3), gt=timedelta(0), le=timedelta(days=30))
    payment_poll_interval: timedelta = Field(default=timedelta(minutes=10), ge=timedelta(seconds=1),
                                             le=timedelta(days=1))
    supplement_timeout: timedelta = Field(default=timedelta(days=30), gt=timedelta(0), le=timedelta(days=90))
    reminder_fraction: float = Field(default=0.25, gt=0, lt=1, description="remind when this part of time is left")
    # How many messages (signals and accepted updates) a dossier takes into its history before it takes only those
    # that move it on (docs/reliability.md, message budget): a refused message costs about ten history events.
    message_budget: int = Field(default=1000, ge=1, le=4000)

    @model_validator(mode="after")
    def _bounded_polling(self) -> ProcessingOptions:
        # Each fee poll adds about 11 history events: 500 polls keep an unpaid dossier far below the 10,000 warning.
        if self.payment_timeout / self.payment_poll_interval > 500:
            raise ValueError("payment_timeout / payment_poll_interval: at most 500 polls of the payment gateway")
        return self


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file, lower-case hex")]


class AttachmentRef(Boundary):
    """A paper attached to a dossier: what it is and which uploaded file (``POST /v1/attachments``) holds it. Only
    this reference travels with the dossier; the file stays in the attachment store under its SHA-256."""

    kind: AttachmentKind
    sha256: Sha256
    file_name: str = Field(min_length=1, max_length=255, pattern=FILE_NAME_PATTERN)
    media_type: MediaType
    size_bytes: int = Field(gt=0)


class ChecklistItem(Boundary):
    """One item of a CT05 checklist: what is missing, the law that asks for it, and the kinds of paper that answer
    it (one attachment of any of them)."""

    item: Item
    legal_basis: str = Field(min_length=1, max_length=300)
    accepted_kinds: tuple[AttachmentKind, ...] = Field(min_length=1, max_length=10)


class ChecklistAnswer(Boundary):
    """The citizen's answer to one checklist item: the paper, uploaded first."""

    item: int = Field(ge=0, lt=20, description="the item's position in the checklist, from 0")
    attachment: AttachmentRef


class ChecklistEntry(ChecklistItem):
    """An item as the dossier holds it while a supplement is awaited: answered, or still missing."""

    answer: AttachmentRef | None = None


# The key under which submissions carried the timings before they became the worker's.
LEGACY_PROCESSING_KEY = "processing"


def legacy_processing(raw: Any) -> ProcessingOptions:
    """The timings a submission of old carried (defaults when it carried none): what a dossier started then
    waited by, so that its recorded history replays the same."""
    value = raw.get(LEGACY_PROCESSING_KEY) if isinstance(raw, dict) else None
    return ProcessingOptions.model_validate(value if value is not None else {})


class SubmissionBase(Boundary):
    """What every dossier carries; each procedure adds ``procedure`` and ``details``."""

    dossier_code: DossierCode
    received_at: AwareDatetime
    channel: Channel = "online"
    filed_by: str | None = Field(
        default=None, pattern=r"^CB-[0-9]{5}-[0-9]{2}$",
        description="the officer who filed an assisted dossier at the counter; set by the API from their token")
    applicant: Person
    police_unit: str = Field(pattern=r"^CA-[0-9]{5}$", description="'CA-' + commune code of the deciding unit")
    declaration_truthful: Literal[True] = Field(
        description="the applicant declares the content true (cam đoan); must be true to file"
    )
    consents: tuple[Consent, ...] = ()
    delivery: Delivery
    fee_exemption: FeeExemption | None = None
    contact: Contact = Field(default_factory=Contact, description="how the applicant is told of each step")
    attachments: tuple[AttachmentRef, ...] = Field(default=(), max_length=30,
                                                   description="papers attached, each uploaded first")

    # The kinds of paper this procedure takes, in its own module (Luật Cư trú and the procedure set's papers).
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_processing(cls, data: Any) -> Any:
        """Recorded histories hold submissions that still carry the timings: checked as they were checked then
        (a dossier refused for them replays refused), then dropped, as no schema shows them any more."""
        if isinstance(data, dict) and LEGACY_PROCESSING_KEY in data:
            try:
                ProcessingOptions.model_validate(data[LEGACY_PROCESSING_KEY])
            except ValidationError as error:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
                raise ValueError(f"{LEGACY_PROCESSING_KEY}: {problems}") from None
            data = {k: v for k, v in data.items() if k != LEGACY_PROCESSING_KEY}
        return data

    @model_validator(mode="after")
    def _assisted_by_an_officer(self) -> SubmissionBase:
        if (self.channel == "assisted") != (self.filed_by is not None):
            raise ValueError("filed_by: an assisted dossier names the officer who filed it, and only such a one")
        return self

    @model_validator(mode="after")
    def _dates_not_after_receipt(self) -> SubmissionBase:
        if self.applicant.birth_date > self.received_at.date():
            raise ValueError("applicant.birth_date is after the dossier was received")
        if commune(self.police_unit.removeprefix("CA-")) is None:
            raise ValueError(f"police_unit {self.police_unit} is not the police of a known commune")
        # The rule sets (fees, deadlines) and the working-day calendar must cover the receipt day: otherwise the
        # workflow fails on every attempt when it computes the fee or the deadline.
        received = local_date(self.received_at)
        if received < RULE_SETS[0].effective_from:
            raise ValueError(f"received_at: no rule set is in force before {RULE_SETS[0].effective_from}")
        if not FIRST_YEAR <= received.year < LAST_YEAR:
            raise ValueError(f"received_at: the working-day calendar covers {FIRST_YEAR}–{LAST_YEAR - 1}")
        for attachment in self.attachments:
            if attachment.kind not in self.attachment_kinds:
                taken = ", ".join(self.attachment_kinds) or "none"
                raise ValueError(f"attachments: this procedure takes no {attachment.kind.value} (it takes: {taken})")
        return self

    def attached(self, *kinds: AttachmentKind) -> bool:
        """Whether a paper of one of ``kinds`` is attached."""
        return any(attachment.kind in kinds for attachment in self.attachments)

    def consent_of(self, role: ConsentRole, personal_id: str | None = None) -> Consent | None:
        for consent in self.consents:
            if consent.role == role and (personal_id is None or consent.personal_id == personal_id):
                return consent
        return None


class DossierState(StrEnum):
    RECEIVED = "received"
    AWAITING_FILING = "awaiting_filing"  # a police notice waits for the person's own filing (ex officio after it)
    AWAITING_DECISION = "awaiting_decision"
    AWAITING_SIGN_OFF = "awaiting_sign_off"  # an officer proposed the approval; the unit head signs or returns it
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    AWAITING_PAYMENT = "awaiting_payment"
    RECORDING = "recording"
    DELIVERING = "delivering"
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = {DossierState.COMPLETED, DossierState.REFUSED, DossierState.CANCELLED, DossierState.WITHDRAWN}


class Refusal(Boundary):
    """Why a dossier is refused (CT06): a stable code for machines, a sentence for people, the law."""

    code: str
    message: str  # English, for logs and the API
    legal_basis: str = ""
    # Optional with a default: recorded workflow histories hold Refusal JSON written before this field existed.
    message_vi: str = Field(default="", description="the reason in Vietnamese, printed on CT06")


# ---- messages --------------------------------------------------------------------------------------------


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_SUPPLEMENT = "request_supplement"


class SignedEnvelope(Boundary):
    """The envelope the cutru API puts around an officer's message (``domain.envelopes``): the workflow takes the
    message only when the signature verifies. Optional so that histories recorded before signing still decode."""

    dossier_code: DossierCode | None = Field(default=None, description="the dossier the message was signed for")
    signed_at: AwareDatetime | None = None
    token_id: str | None = Field(default=None, min_length=1, max_length=200,
                                 description="the request's id: one decision per dossier per token id")
    key_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    signature: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256, hex")


class OfficerDecision(SignedEnvelope):
    """Signal ``officer_decision`` and update ``decide``: an officer's decision on a dossier."""

    officer_id: str = Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")
    decision: DecisionKind
    reason: str | None = Field(default=None, max_length=1000)
    missing_items: tuple[Item, ...] = Field(default=(), max_length=20)
    checklist: tuple[ChecklistItem, ...] = Field(
        default=(), max_length=20, description="the missing items with their legal basis and the papers accepted; "
                                               "missing_items then name the same items")

    @model_validator(mode="after")
    def _reason_where_the_law_wants_one(self) -> OfficerDecision:
        if self.decision == DecisionKind.REJECT and not (self.reason and self.reason.strip()):
            raise ValueError("a rejection needs a reason: it is printed on the CT06 refusal")
        if self.decision == DecisionKind.REQUEST_SUPPLEMENT and not self.missing_items:
            raise ValueError("a supplement request lists the missing items: they are printed on CT05")
        if self.checklist and self.missing_items != tuple(entry.item for entry in self.checklist):
            raise ValueError("missing_items must name the checklist's items, in its order")
        return self


class DecisionReceipt(Boundary):
    """Result of the ``decide`` update."""

    dossier_code: str
    accepted: bool
    state: DossierState


class Reassignment(SignedEnvelope):
    """Update ``reassign``: the unit's supervisor gives the dossier to another officer of the unit."""

    supervisor_id: str = Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")
    officer_id: str = Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")
    reason: str = Field(min_length=1, max_length=1000)


OfficerId = Annotated[str, Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")]


class Position(StrEnum):
    """An officer's place in the unit (officers.position): who may sign the unit's results."""

    OFFICER = "officer"
    DEPUTY_HEAD = "deputy_head"  # Phó Trưởng Công an; signs for the head (KT.) only when authorised
    HEAD = "head"  # Trưởng Công an


def unit_display_name(unit_code: str) -> str:
    """"Công an Phường Hoàn Kiếm" for CA-00070; the code itself for a unit that is no commune's police."""
    unit = commune_of_unit(unit_code)
    return police_unit_name(unit.code) if unit else f"Công an {unit_code}"


class Signer(Boundary):
    """Who signs a dossier's result: the unit head, or a deputy head authorised to sign for the head, as the cutru
    API read them from the roster at sign time."""

    officer_id: OfficerId
    full_name: str = Field(min_length=2, max_length=100)
    position: Literal[Position.HEAD, Position.DEPUTY_HEAD]
    unit_code: str = Field(pattern=r"^CA-[0-9A-Z-]{1,20}$")

    @property
    def title(self) -> str:
        """The signer's title (chức danh), e.g. "Phó Trưởng Công an Phường Hoàn Kiếm"."""
        prefix = "Trưởng" if self.position == Position.HEAD else "Phó Trưởng"
        return f"{prefix} {unit_display_name(self.unit_code)}"

    @property
    def signature_lines(self) -> tuple[str, ...]:
        """The lines above the signature (Nghị định 30/2020/NĐ-CP Điều 13: a deputy signs "KT." for the head)."""
        head = f"TRƯỞNG {unit_display_name(self.unit_code).upper()}"
        return (head,) if self.position == Position.HEAD else (f"KT. {head}", "PHÓ TRƯỞNG CÔNG AN")


class SignOffKind(StrEnum):
    SIGN = "sign"  # approve the proposal and sign the result
    RETURN = "return"  # send it back to the officer, with the reason


class SignOff(SignedEnvelope):
    """Update ``sign_off``: the unit head signs an officer's proposal, or returns it to the officer."""

    signer: Signer
    decision: SignOffKind
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _reason_for_a_return(self) -> SignOff:
        if self.decision == SignOffKind.RETURN and not (self.reason and self.reason.strip()):
            raise ValueError("a return needs a reason: the officer decides again with it")
        return self


class Closure(SignedEnvelope):
    """Update ``close``: an operator ends a dossier that cannot proceed (a step failing for good, a dossier opened
    in error); it ends cancelled, the reason in its trail and the audit table."""

    operator_id: str = Field(min_length=1, max_length=200, description="the operator, as their token names them")
    reason: str = Field(min_length=1, max_length=1000)


class SignOffReceipt(Boundary):
    """Result of the ``sign_off`` update."""

    dossier_code: str
    decision: SignOffKind
    state: DossierState


class Supplement(Boundary):
    """Signal ``supplement``: the citizen completes the dossier after a CT05 request."""

    provided_items: tuple[Item, ...] = Field(default=(), max_length=20)
    answers: tuple[ChecklistAnswer, ...] = Field(default=(), max_length=20,
                                                 description="papers answering the CT05 checklist, item by item")
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _something_supplied(self) -> Supplement:
        if not self.provided_items and not self.answers:
            raise ValueError("a supplement lists the provided items or answers checklist items")
        return self


class PaymentConfirmation(Boundary):
    """Signal ``payment_confirmed``: the payment gateway's callback."""

    order_id: str = Field(max_length=80)
    amount_vnd: int = Field(ge=0)


class Withdrawal(Boundary):
    """Signal ``withdraw``: the applicant withdraws the dossier before its result.

    ``applicant_id`` is the personal ID the portal verified for the request: the dossier takes the withdrawal only
    from its own applicant (optional so that histories recorded before the check still decode)."""

    reason: str = Field(min_length=1, max_length=1000)
    applicant_id: PersonalId | None = None


class TrailAction(StrEnum):
    """What a line of the decision trail records. The audit table, the metrics and the auditors' replay read these,
    never the names of the activities that wrote them; the values are stored (audit table, histories): keep them."""

    NOTICE_SERVED = "notice_served"  # a police notice opened the dossier (deletions, Điều 24 khoản 3)
    RECEIVED = "received"
    ACCEPTED = "accepted"  # complete and valid: the legal clock runs, CT04 gives the appointment
    REASSIGNED = "reassigned"
    REMINDER_SENT = "reminder_sent"
    ESCALATED = "escalated"
    DECISION_REFUSED = "decision_refused"  # a decision signal the dossier could not take
    SUPPLEMENT_REQUESTED = "supplement_requested"
    SUPPLEMENTED = "supplemented"
    APPROVED = "approved"
    PROPOSED = "proposed"  # an officer's approval, waiting for the unit head's sign-off
    SIGNED_OFF = "signed_off"  # the head (or an authorised deputy) approved the proposal and signed the result
    RETURNED = "returned"  # the head sent the proposal back to the officer
    FEE_PAID = "fee_paid"
    WITHDRAWAL_REFUSED = "withdrawal_refused"
    CLOSE_REFUSED = "close_refused"  # an operator's close or a cancellation came after the records were committed
    FILING_REFUSED = "filing_refused"  # a ``citizen_filed`` naming no filing of the notified person
    STAY_NOTIFIED = "stay_notified"  # a stay register took a notification
    # The dossier's message budget is spent: from here on it drops, unrecorded, the messages that do not move it on.
    MESSAGES_REFUSED = "messages_refused"
    STEP_FAILED = "step_failed"  # a step failed in a way no retry mends: the dossier waits for an operator
    # The closing lines: the dossier's final state.
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"

    @classmethod
    def closing(cls, state: DossierState) -> TrailAction:
        if not state.final:
            raise ValueError(f"{state.value} is not a final state")
        return cls(state.value)

    @property
    def closes(self) -> bool:
        """The line that closes a dossier; its value is the final state."""
        return self.value in _FINAL_VALUES


_FINAL_VALUES = frozenset(state.value for state in _FINAL)


class TrailEntry(Boundary):
    """One line of the decision trail: when, who, what, why."""

    at: datetime
    actor: str
    action: TrailAction
    detail: str = ""


class DossierStatus(Boundary):
    """Query ``status``."""

    dossier_code: str
    procedure: Procedure
    state: DossierState
    police_unit: str
    received_at: datetime | None
    deadline: datetime | None
    overdue: bool
    assigned_officer: str | None
    fee_vnd: int
    refusals: tuple[Refusal, ...]
    documents: tuple[DocumentKind, ...]
    trail: tuple[TrailEntry, ...]
    findings: tuple[str, ...] = ()
    checklist: tuple[ChecklistEntry, ...] = Field(default=(), description="the CT05 checklist awaited: an item "
                                                                          "without an answer is still missing")
    submission: dict[str, Any] | None = Field(default=None, description="what the citizen filed (papers, consents)")


class DossierOutcome(Boundary):
    """Workflow result."""

    dossier_code: str
    procedure: Procedure
    state: DossierState
    refusals: tuple[Refusal, ...] = ()
    fee_paid_vnd: int = 0
    documents: tuple[DocumentKind, ...] = ()
    decided_by: str | None = None
    signed_by: Signer | None = None
