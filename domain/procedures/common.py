"""What every procedure's definition uses: the details base and shared fields, the identity check, ages, consent,
the deciding authority, filing windows.

Pure functions of plain values: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal, Protocol

from pydantic import Field

from domain.admin_units import commune
from domain.calendar import format_date, local_date
from domain.facts import PersonFacts
from domain.models import Boundary, ConsentRole, Person, Refusal, SubmissionBase
from domain.rulesets import Period, PeriodUnit

ADULT_AGE = 18  # Bộ luật Dân sự 2015, Điều 20: an adult is 18 or older

# A letter only Vietnamese spelling has (a diacritic or đ): what tells a Vietnamese sentence from an English one.
_VIETNAMESE_LETTER = re.compile("[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE)

# Refused alike by permanent and temporary registration.
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


class Details(Boundary):
    """Base of every details model (``Boundary`` refuses text that PostgreSQL cannot store)."""


# The applicant's relation to the person joined: "grandchild" joins a grandparent, "grandparent" a grandchild.
Relation = Literal["spouse", "child", "parent", "sibling", "grandchild", "nephew_niece", "ward", "other_relative",
                   "grandparent", "uncle_aunt", "great_grandchild"]
OfficerId = Annotated[str, Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")]
Text = Annotated[str, Field(min_length=3, max_length=300)]

IDENTITY_BASIS = "Luật Cư trú 2020, Điều 6; Luật Căn cước 2023"
# The identity fields that may differ from CSDLQG, as the English and the Vietnamese (CT06) messages name them.
_IDENTITY_FIELDS_VI = {"full name": "họ và tên", "birth date": "ngày sinh", "sex": "giới tính"}


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


def max_term_end(start: date, months: int) -> date:
    """Last day of the longest temporary-residence term allowed from ``start`` (Bộ luật Dân sự Điều 147–148)."""
    return Period(amount=months, unit=PeriodUnit.MONTHS).end_from(start)


def no_household(basis: str) -> list[Refusal]:
    return [refusal("no_household", "The applicant is not a registered member of any household.", basis,
                    "Người đề nghị không có tên là thành viên của hộ gia đình nào trong Cơ sở dữ liệu về cư trú.")]


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


def identity_refusals(declared: Person, person: PersonFacts | None) -> list[Refusal]:
    """The applicant must exist in the population database, be alive, and match what was declared."""
    basis = IDENTITY_BASIS
    if person is None:
        return [
            refusal(
                "identity_unknown",
                "The personal ID number is not in the national population database; check the number.",
                basis,
                "Số định danh cá nhân không có trong Cơ sở dữ liệu quốc gia về dân cư; đề nghị kiểm tra lại số định "
                "danh cá nhân.",
            )
        ]
    refusals = []
    if person.status != "alive":
        refusals.append(
            refusal("identity_deceased", "The population database records this person as deceased.", basis,
                    "Cơ sở dữ liệu quốc gia về dân cư ghi nhận người này đã chết.")
        )
    mismatched = [
        name
        for name, same in (
            ("full name", declared.full_name.casefold() == person.full_name.casefold()),
            ("birth date", declared.birth_date == person.birth_date),
            ("sex", declared.sex == person.sex),
        )
        if not same
    ]
    if mismatched:
        refusals.append(
            refusal(
                "identity_mismatch",
                "The declared " + ", ".join(mismatched)
                + " differ from the national population database; correct the declaration.",
                basis,
                "Thông tin " + ", ".join(_IDENTITY_FIELDS_VI[name] for name in mismatched)
                + " đã kê khai không trùng khớp với Cơ sở dữ liệu quốc gia về dân cư; đề nghị kê khai lại cho đúng.",
            )
        )
    return refusals


def records_changed(refusals: list[Refusal], legal_basis: str) -> tuple[Refusal, ...]:
    """Why an approved dossier is refused at its record commit: another dossier on the same person or household
    changed the records first, and on the records as they now stand the rules refuse it (``refusals``). The citizen
    did nothing wrong, so the fee paid is refunded (docs/reliability.md, competing dossiers)."""
    return (refusal(
        "records_changed",
        "The residence records changed after this dossier was approved: another dossier on the same person or "
        "household was decided first. On the records as they now stand the dossier can no longer be granted, for "
        "the reasons below; the fee paid is refunded. File a new dossier if it still applies.",
        legal_basis,
        "Thông tin cư trú của công dân hoặc hộ gia đình đã thay đổi sau khi hồ sơ này được phê duyệt do một hồ sơ "
        "khác được giải quyết trước. Theo thông tin cư trú hiện tại, hồ sơ không còn đủ điều kiện giải quyết vì các "
        "lý do nêu dưới đây; lệ phí đã nộp (nếu có) được hoàn trả. Công dân có thể nộp hồ sơ mới nếu vẫn có nhu cầu.",
    ), *refusals)
