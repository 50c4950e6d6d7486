"""Building blocks shared by the procedures' rules: ages, consent, the deciding authority, filing windows.

Pure functions of plain values: no I/O, no clock. The facts models live in ``domain.eligibility``; this module
must not import it (the per-procedure rule modules import both, and ``domain.eligibility`` imports them).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Protocol

from domain.admin_units import commune
from domain.calendar import local_date
from domain.documents import format_date
from domain.models import ConsentRole, Refusal, SubmissionBase

ADULT_AGE = 18  # Bộ luật Dân sự 2015, Điều 20: an adult is 18 or older

# A letter only Vietnamese spelling has (a diacritic or đ): what tells a Vietnamese sentence from an English one.
_VIETNAMESE_LETTER = re.compile("[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE)

# Refused alike by permanent (``domain.eligibility``) and temporary (``domain.rules_temporary``) registration.
RESIDENCE_UNKNOWN_VI = ("Địa chỉ đã kê khai chưa được ghi nhận là chỗ ở hợp pháp trong Cơ sở dữ liệu về cư trú; đề "
                        "nghị bổ sung giấy tờ, tài liệu chứng minh chỗ ở hợp pháp hoặc kiểm tra lại địa chỉ.")
NO_HOUSEHOLD_TO_JOIN_VI = "Chỗ ở này không có hộ gia đình đang cư trú để người đề nghị nhập hộ."

# Whose consent is missing (``missing_consent``), as the English message names them → as CT06 names them.
CONSENT_GIVERS_VI = {
    "the household head": "chủ hộ",
    "the current household head": "chủ hộ hiện tại",
    "the household head or the owner": "chủ hộ hoặc chủ sở hữu chỗ ở hợp pháp",
    "the owner of the residence": "chủ sở hữu chỗ ở hợp pháp",
}

# Where the deciding police unit is (``wrong_authority``'s ``what``) → the clause after "nơi" on CT06.
AUTHORITY_PLACES_VI = {
    "the residence": "có chỗ ở đề nghị đăng ký",
    "the household's residence": "hộ gia đình đang cư trú",
    "the current place": "người đề nghị đang sinh sống",
    "the place of stay": "có địa điểm lưu trú",
    "the temporary residence": "đã đăng ký tạm trú",
    "the permanent residence": "đã đăng ký thường trú",
}


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


def is_vietnamese(text: str) -> bool:
    """Written in Vietnamese, as far as a machine can tell: it has letters only Vietnamese spelling has."""
    return _VIETNAMESE_LETTER.search(text) is not None


def refusal(code: str, message: str, legal_basis: str, message_vi: str) -> Refusal:
    """A refusal in English (``message``: logs, API) and in Vietnamese (``message_vi``: printed on CT06)."""
    if not is_vietnamese(message_vi):
        raise ValueError(f"refusal {code!r}: message_vi must be the reason in Vietnamese, got {message_vi!r}")
    return Refusal(code=code, message=message, legal_basis=legal_basis, message_vi=message_vi)


def missing_consent(code: str, who: str, legal_basis: str = "Luật Cư trú 2020, Điều 20; Thông tư 116/2026/TT-BCA"
                    ) -> Refusal:
    """``who`` is a key of ``CONSENT_GIVERS_VI``: the English message names them so, CT06 in Vietnamese."""
    who_vi = CONSENT_GIVERS_VI[who]
    return refusal(code, f"Consent of {who} is missing: ask them to sign CT01 or confirm in VNeID, then file again.",
                   legal_basis,
                   f"Hồ sơ chưa có ý kiến đồng ý của {who_vi}; đề nghị {who_vi} ghi ý kiến đồng ý và ký vào Tờ khai "
                   "thay đổi thông tin cư trú (mẫu CT01) hoặc xác nhận đồng ý trên ứng dụng VNeID, sau đó nộp lại "
                   "hồ sơ.")


def minor_needs_guardian(submission: SubmissionBase, birth_date: date, legal_basis: str) -> list[Refusal]:
    """A minor acts through a parent or guardian, who consents by CT01 signature or in VNeID."""
    if age_on(birth_date, received_on(submission)) >= ADULT_AGE:
        return []
    if submission.consent_of(ConsentRole.PARENT_OR_GUARDIAN):
        return []
    return [refusal("minor_without_guardian_consent",
                    "The applicant is under 18: a parent or guardian must consent (CT01 signature or VNeID).",
                    legal_basis,
                    "Người đề nghị là người chưa thành niên (chưa đủ 18 tuổi) nên phải có ý kiến đồng ý của cha, mẹ "
                    "hoặc người giám hộ, bằng chữ ký trên Tờ khai thay đổi thông tin cư trú (mẫu CT01) hoặc xác nhận "
                    "trên ứng dụng VNeID.")]


def barred_place(barred_reason: str | None) -> list[Refusal]:
    if not barred_reason:
        return []
    return [refusal("barred_place", f"Registration is barred at this place: {barred_reason}.",
                    "Luật Cư trú 2020, Điều 23",
                    f"Chỗ ở đề nghị đăng ký thuộc địa điểm không được đăng ký cư trú mới: {barred_reason}.")]


def wrong_authority(submission: SubmissionBase, commune_code: str, what: str) -> list[Refusal]:
    """The commune police where the residence is decides (Luật Cư trú 2020, Điều 22, 25–31).

    ``what`` is a key of ``AUTHORITY_PLACES_VI``: the English message names the place so, CT06 in Vietnamese.
    """
    expected = f"CA-{commune_code}"
    if submission.police_unit == expected:
        return []
    where_vi = AUTHORITY_PLACES_VI[what]
    unit = commune(commune_code)
    name = unit.name if unit else commune_code
    name_vi = unit.name if unit else f"cấp xã mã {commune_code}"
    return [refusal("wrong_police_unit",
                    f"This dossier is decided by the police of {name} ({expected}), where {what} is; "
                    "file it there.",
                    "Luật Cư trú 2020; Thông tư 116/2026/TT-BCA (thẩm quyền của Công an cấp xã nơi cư trú)",
                    f"Hồ sơ thuộc thẩm quyền giải quyết của Công an {name_vi} ({expected}), nơi {where_vi}; "
                    f"đề nghị nộp hồ sơ tại Công an {name_vi}.")]


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
