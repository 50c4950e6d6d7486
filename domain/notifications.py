"""What a citizen is told at each step of a dossier, by e-mail or SMS, and an officer of a reminder or an escalation,
by e-mail: the messages, from Vietnamese templates.

One template per step (``domain/templates/notifications/<kind>.j2``) with three blocks: the e-mail's ``subject``
and body (``email``), and the ``sms``. An SMS goes out without diacritics, as brandname SMS templates are
registered with the carriers (and a Vietnamese SMS with diacritics costs two or three segments), and never with a
12-digit number: a personal ID number must not travel in clear over the carriers' networks. An officer's message
(``officer_<kind>.j2``) is an e-mail only, naming the dossier and the desk's page for it, never the applicant.

A message is sent once per dossier, step and channel: that triple is its key (``message_key``), and the SMTP
Message-ID and the SMS gateway's request id are made from it, so that a duplicate is recognisable wherever it lands.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

import jinja2
from pydantic import BaseModel, ConfigDict

from domain.calendar import VN_TZ
from domain.kinds import DocumentKind

Channel = Literal["email", "sms"]


class NotificationKind(StrEnum):
    """The steps a citizen is told of (the outbox's ``kind``; the trail action's value where one records it)."""

    ACCEPTED = "accepted"  # the CT04 receipt with the appointment date
    SUPPLEMENT_REQUESTED = "supplement_requested"  # CT05
    FEE_DUE = "fee_due"  # with the payment link
    REFUSED = "refused"  # CT06
    COMPLETED = "completed"  # the result (CT07, CT08, ...) is ready
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"
    DISPATCHED = "dispatched"  # posted, with the tracking number


# What the citizen reads for each result form.
DOCUMENT_TITLES: dict[DocumentKind, str] = {
    DocumentKind.CT03: "Phiếu khai báo tạm vắng (CT03)",
    DocumentKind.CT06: "Phiếu từ chối tiếp nhận, giải quyết hồ sơ (CT06)",
    DocumentKind.CT07: "Xác nhận thông tin về cư trú (CT07)",
    DocumentKind.CT08: "Thông báo kết quả giải quyết hồ sơ cư trú (CT08)",
}


class MessageFacts(BaseModel):
    """What a message says, read from the database when it is sent."""

    model_config = ConfigDict(frozen=True)

    kind: NotificationKind
    dossier_code: str
    procedure_name: str
    unit_name: str
    full_name: str
    personal_id: str  # never printed: the SMS is checked against it
    detail: str = ""
    appointment: date | None = None
    amount_vnd: int | None = None
    payment_link: str | None = None
    documents: tuple[DocumentKind, ...] = ()
    postal: bool = False
    tracking_number: str | None = None


class OfficerNoticeKind(StrEnum):
    """What an officer is told by e-mail, besides the desk's inbox (the outbox's ``kind`` of their messages)."""

    REMINDER = "officer_reminder"  # the deadline is near
    ESCALATION = "officer_escalation"  # it has passed: to the assigned officer and the unit's supervisors


class OfficerFacts(BaseModel):
    """What an officer's message says: the dossier and where to act on it, no applicant's data."""

    model_config = ConfigDict(frozen=True)

    kind: OfficerNoticeKind
    dossier_code: str
    procedure_name: str
    unit_name: str
    officer_name: str
    assigned_name: str | None
    due: datetime | None
    desk_link: str


class Rendered(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    body: str


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("domain", "templates/notifications"),
    undefined=jinja2.StrictUndefined,  # a template naming a fact that does not exist fails its test, not a citizen
    autoescape=False,  # plain-text e-mail and SMS
    keep_trailing_newline=True,
)
_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


class PersonalIdInSms(ValueError):
    """An SMS would carry a 12-digit number: it is not sent."""


def message_key(dossier_code: str, step: str, channel: Channel) -> str:
    """The idempotency key of one message: a dossier's step on one channel."""
    return f"{dossier_code}.{step}.{channel}"


def message_id(dossier_code: str, step: str, channel: Channel, domain: str) -> str:
    """The SMTP Message-ID of a message (RFC 5322 ``msg-id``): its key, so a duplicate shows as one."""
    return f"<{message_key(dossier_code, step, channel)}@{domain}>"


def unaccented(text: str) -> str:
    """Vietnamese without diacritics: ``Đã tiếp nhận`` → ``Da tiep nhan``."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng"


def render(facts: MessageFacts, channel: Channel) -> Rendered:
    """The message for one channel; PersonalIdInSms when an SMS would carry a 12-digit number."""
    template = _TEMPLATES.get_template(f"{facts.kind.value}.j2")
    context = template.new_context({
        "dossier_code": facts.dossier_code,
        "procedure_name": facts.procedure_name,
        "unit_name": facts.unit_name,
        "full_name": facts.full_name,
        "detail": facts.detail,
        "appointment": facts.appointment.strftime("%d/%m/%Y") if facts.appointment else None,
        "amount": _vnd(facts.amount_vnd) if facts.amount_vnd is not None else None,
        "payment_link": facts.payment_link,
        "documents": ", ".join(DOCUMENT_TITLES.get(k, k.value) for k in facts.documents),
        "document_codes": ", ".join(k.value for k in facts.documents),
        "postal": facts.postal,
        "tracking_number": facts.tracking_number,
    })
    subject = "".join(template.blocks["subject"](context)).strip()
    if channel == "email":
        return Rendered(subject=subject, body="".join(template.blocks["email"](context)).lstrip())
    sms = unaccented(" ".join("".join(template.blocks["sms"](context)).split()))
    if facts.personal_id in sms or _TWELVE_DIGITS.search(sms):
        raise PersonalIdInSms(f"the {facts.kind.value} SMS of {facts.dossier_code} would carry a 12-digit number")
    return Rendered(subject=unaccented(subject), body=sms)


def render_officer(facts: OfficerFacts) -> Rendered:
    """An officer's e-mail; the deadline in Vietnam's time."""
    template = _TEMPLATES.get_template(f"{facts.kind.value}.j2")
    due = facts.due.astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y") if facts.due else None
    context = template.new_context({
        "dossier_code": facts.dossier_code, "procedure_name": facts.procedure_name, "unit_name": facts.unit_name,
        "officer_name": facts.officer_name, "assigned_name": facts.assigned_name, "due": due,
        "desk_link": facts.desk_link})
    return Rendered(subject="".join(template.blocks["subject"](context)).strip(),
                    body="".join(template.blocks["email"](context)).lstrip())
