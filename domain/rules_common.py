"""Building blocks shared by the procedures' rules: ages, consent, the deciding authority, filing windows.

Pure functions of plain values: no I/O, no clock. The facts models live in ``domain.eligibility``; this module
must not import it (the per-procedure rule modules import both, and ``domain.eligibility`` imports them).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

from domain.admin_units import commune
from domain.calendar import local_date
from domain.documents import format_date
from domain.models import ConsentRole, Refusal, SubmissionBase

ADULT_AGE = 18  # Bộ luật Dân sự 2015, Điều 20: an adult is 18 or older


class Capable(Protocol):
    """What the capacity rule reads of a person (``PersonFacts`` and ``MemberFacts`` both have it)."""

    birth_date: date
    status: str
    full_civil_capacity: bool


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def received_on(submission: SubmissionBase) -> date:
    """The Vietnamese calendar day the dossier was received: the day every period of the rules counts from."""
    return local_date(submission.received_at)


def has_full_capacity(person: Capable, on: date) -> bool:
    """Alive, adult and not restricted by a court (năng lực hành vi dân sự đầy đủ, Bộ luật Dân sự Điều 20–24)."""
    return person.status == "alive" and person.full_civil_capacity and age_on(person.birth_date, on) >= ADULT_AGE


def refusal(code: str, message: str, legal_basis: str) -> Refusal:
    return Refusal(code=code, message=message, legal_basis=legal_basis)


def missing_consent(code: str, who: str, legal_basis: str = "Luật Cư trú 2020, Điều 20; Thông tư 116/2026/TT-BCA"
                    ) -> Refusal:
    return refusal(code, f"Consent of {who} is missing: ask them to sign CT01 or confirm in VNeID, then file again.",
                   legal_basis)


def minor_needs_guardian(submission: SubmissionBase, birth_date: date, legal_basis: str) -> list[Refusal]:
    """A minor acts through a parent or guardian, who consents by CT01 signature or in VNeID."""
    if age_on(birth_date, received_on(submission)) >= ADULT_AGE:
        return []
    if submission.consent_of(ConsentRole.PARENT_OR_GUARDIAN):
        return []
    return [refusal("minor_without_guardian_consent",
                    "The applicant is under 18: a parent or guardian must consent (CT01 signature or VNeID).",
                    legal_basis)]


def barred_place(barred_reason: str | None) -> list[Refusal]:
    if not barred_reason:
        return []
    return [refusal("barred_place", f"Registration is barred at this place: {barred_reason}.",
                    "Luật Cư trú 2020, Điều 23")]


def wrong_authority(submission: SubmissionBase, commune_code: str, what: str) -> list[Refusal]:
    """The commune police where the residence is decides (Luật Cư trú 2020, Điều 22, 25–31)."""
    expected = f"CA-{commune_code}"
    if submission.police_unit == expected:
        return []
    unit = commune(commune_code)
    name = unit.name if unit else commune_code
    return [refusal("wrong_police_unit",
                    f"This dossier is decided by the police of {name} ({expected}), where {what} is; "
                    "file it there.",
                    "Luật Cư trú 2020; Thông tư 116/2026/TT-BCA (thẩm quyền của Công an cấp xã nơi cư trú)")]


def period_end(start: date, days: int) -> date:
    """Last day of a period of ``days`` days from ``start``; it begins the next day (Bộ luật Dân sự Điều 147)."""
    return start + timedelta(days=days)


def late_filing_note(due_from: date, filed_on: date, days: int, legal_basis: str) -> str | None:
    """A sentence for the officer when a filing came after its window, or None when it was on time.

    Filing late is not a ground for refusal: the law obliges the record to change anyway, and refusing would
    leave the records wrong. The late filing is recorded (it may be sanctioned separately).
    """
    last_day = period_end(due_from, days)
    if filed_on <= last_day:
        return None
    return (f"Filed on {format_date(filed_on)}, after the {days}-day window that ended on {format_date(last_day)} "
            f"({legal_basis}); the change is still due and is made; the late filing is recorded.")
