"""Eligibility rules, as small pure functions over the submission and the facts loaded from the databases.

The ``check_eligibility`` activity loads ``HouseholdFacts`` from PostgreSQL and calls ``eligibility_refusals``;
every refusal names its legal basis and says what the applicant can do about it. This module holds the facts
models, permanent registration's rules and the registries; the other procedures' rules live in
``domain.rules_deletion``, ``domain.rules_temporary``, ``domain.rules_household`` and
``domain.rules_declarations`` and are registered in ``RULES``, ``DEADLINE_CASES`` and ``NOTES`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from domain.models import Boundary, ConsentRole, Refusal, SubmissionBase
from domain.procedures import Procedure
from domain.rules_common import (  # ADULT_AGE and age_on are re-exported for callers of this module
    ADULT_AGE,  # noqa: F401
    NO_HOUSEHOLD_TO_JOIN_VI,
    RESIDENCE_UNKNOWN_VI,
    age_on,  # noqa: F401
    barred_place,
    minor_needs_guardian,
    missing_consent,
    refusal,
    wrong_authority,
)
from domain.rulesets import DeadlineCase
from domain.submissions import PermanentResidenceRegistrationSubmission

MIN_FLOOR_AREA_PER_PERSON_M2 = Decimal(8)  # Điều 20 khoản 3: never below 8 m², provinces may set more

# The identity fields that may differ from CSDLQG, as the English and the Vietnamese (CT06) messages name them.
_IDENTITY_FIELDS_VI = {"full name": "họ và tên", "birth date": "ngày sinh", "sex": "giới tính"}


class PersonFacts(Boundary):
    personal_id: str
    full_name: str
    birth_date: date
    sex: str
    status: str
    full_civil_capacity: bool
    fee_exemption: str | None = None
    # Collected and verified in CSDLQG; when not, declarations and confirmations need verification (longer deadline).
    identity_verified: bool = True


class ResidenceFacts(Boundary):
    residence_id: int
    owner_id: str | None
    floor_area_m2: Decimal
    barred_reason: str | None
    household_id: int | None
    household_head_id: str | None
    member_count: int


class RecordFacts(Boundary):
    """One active residence record of a person: permanent, temporary, or a declared place (Điều 19)."""

    record_id: int
    residence_id: int | None
    province_code: str
    commune_code: str
    address_line: str
    valid_from: date
    valid_to: date | None = None  # temporary residence: last day of the term
    owner_id: str | None = None  # owner of the residence, when recorded


class MemberFacts(Boundary):
    """A member of a household as the residence and population databases know them."""

    personal_id: str
    full_name: str
    relation_to_head: str
    birth_date: date
    status: str
    full_civil_capacity: bool


class MembershipFacts(Boundary):
    """The household a person belongs to (hộ gia đình), with all its members."""

    household_id: int
    residence_id: int
    commune_code: str
    head_id: str
    owner_id: str | None
    members: tuple[MemberFacts, ...]

    def member(self, personal_id: str) -> MemberFacts | None:
        return next((m for m in self.members if m.personal_id == personal_id), None)


class PersonRecords(Boundary):
    """Everything the residence database holds, today, about one person."""

    personal_id: str
    permanent: RecordFacts | None = None
    temporary: RecordFacts | None = None
    declaration: RecordFacts | None = None
    household: MembershipFacts | None = None
    absence_declared_until: date | None = None  # end of the latest temporary-absence declaration (Điều 31)

    @property
    def any_active(self) -> bool:
        return any((self.permanent, self.temporary, self.declaration))


class HouseholdFacts(Boundary):
    """What the population and residence databases say about the applicant, the person concerned and the place."""

    applicant: PersonFacts
    residence: ResidenceFacts | None = None
    current_permanent_residence_id: int | None = None
    provincial_min_floor_area_m2: Decimal = MIN_FLOOR_AREA_PER_PERSON_M2
    # The person the dossier concerns when it is not the applicant (a deceased relative, a member renewed for);
    # None also when that person is not in the population database (the rules then refuse).
    subject: PersonFacts | None = None
    records: PersonRecords | None = None  # of the person concerned: the subject, else the applicant
    applicant_records: PersonRecords | None = None  # of the applicant, when the subject is someone else
    named: tuple[PersonFacts, ...] = ()  # other people named in the dossier (members, guests) found in CSDLQG
    notes: tuple[str, ...] = ()  # findings for the officer that refuse nothing (e.g. a late filing)

    def named_person(self, personal_id: str) -> PersonFacts | None:
        return next((p for p in self.named if p.personal_id == personal_id), None)

    def findings(self) -> tuple[str, ...]:
        """What the officer sees of the checks: plain sentences, no personal ID numbers."""
        lines = [f"applicant in the population database: {self.applicant.status}, "
                 f"full civil capacity: {'yes' if self.applicant.full_civil_capacity else 'no'}"]
        if self.residence is not None:
            r = self.residence
            lines.append(f"residence #{r.residence_id}: {r.floor_area_m2} m², {r.member_count} registered member(s), "
                         f"owner {'recorded' if r.owner_id else 'not recorded'}, "
                         f"barred: {r.barred_reason or 'no'}")
        if self.current_permanent_residence_id is not None:
            lines.append(f"current permanent residence #{self.current_permanent_residence_id}")
        if self.records is not None:
            lines += _record_findings(self.records)
        return tuple(lines) + self.notes


def _record_findings(records: PersonRecords) -> list[str]:
    lines = [f"{kind} residence record #{record.record_id} in commune {record.commune_code}"
             + (f", until {record.valid_to.isoformat()}" if record.valid_to else "")
             for kind, record in (("permanent", records.permanent), ("temporary", records.temporary),
                                  ("declared", records.declaration)) if record is not None]
    if records.household is not None:
        lines.append(f"household #{records.household.household_id}: {len(records.household.members)} member(s)")
    if records.absence_declared_until is not None:
        lines.append(f"temporary absence declared until {records.absence_declared_until.isoformat()}")
    return lines or ["no active residence record"]


def identity_refusals(submission: SubmissionBase, person: PersonFacts | None) -> list[Refusal]:
    """The applicant must exist in the population database, be alive, and match what was declared."""
    basis = "Luật Cư trú 2020, Điều 6; Luật Căn cước 2023"
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
    declared = submission.applicant
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


def _minor_needs_guardian(submission: SubmissionBase, facts: HouseholdFacts) -> list[Refusal]:
    return minor_needs_guardian(submission, facts.applicant.birth_date, "Luật Cư trú 2020, Điều 20 khoản 2 điểm c, d")


def _barred_place(facts: HouseholdFacts) -> list[Refusal]:
    return barred_place(facts.residence.barred_reason if facts.residence else None)


def permanent_registration_refusals(
    submission: PermanentResidenceRegistrationSubmission, facts: HouseholdFacts
) -> list[Refusal]:
    """Đăng ký thường trú, Luật Cư trú Điều 20–23."""
    details = submission.details
    applicant_id = submission.applicant.personal_id
    residence = facts.residence
    if residence is None:
        return [
            refusal(
                "residence_unknown",
                "No legal residence is recorded at this address; attach proof of legal residence "
                "or check the address.",
                "Luật Cư trú 2020, Điều 20; Nghị định 154/2024/NĐ-CP",
                RESIDENCE_UNKNOWN_VI,
            )
        ]
    refusals = (wrong_authority(submission, details.residence.commune_code, "the residence")
                + _barred_place(facts) + _minor_needs_guardian(submission, facts))
    if facts.current_permanent_residence_id == residence.residence_id:
        refusals.append(
            refusal("already_registered_here", "The applicant is already registered at this residence.",
                    "Luật Cư trú 2020, Điều 20", "Người đề nghị đã đăng ký thường trú tại chỗ ở này.")
        )
    if details.basis == "own_residence":
        if residence.owner_id != applicant_id:
            refusals.append(
                refusal(
                    "not_owner",
                    "The records do not show the applicant as owner of this residence; choose another "
                    "basis (joining a relative, rented or borrowed housing) or attach proof of ownership.",
                    "Luật Cư trú 2020, Điều 20 khoản 1",
                    "Cơ sở dữ liệu về cư trú không ghi nhận người đề nghị là chủ sở hữu chỗ ở này; đề nghị chọn căn cứ "
                    "đăng ký khác (về ở với người thân; thuê, mượn, ở nhờ chỗ ở hợp pháp) hoặc bổ sung giấy tờ, tài "
                    "liệu chứng minh quyền sở hữu chỗ ở.",
                )
            )
        return refusals
    head_id = residence.household_head_id
    if details.basis == "join_relative":
        if head_id is None:
            refusals.append(
                refusal("no_household_to_join", "No household lives at this residence to join.",
                        "Luật Cư trú 2020, Điều 20 khoản 2", NO_HOUSEHOLD_TO_JOIN_VI)
            )
        elif submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, head_id) is None:
            refusals.append(_missing_consent("household_head_consent_missing", "the household head"))
    else:
        if not details.contract_certified:
            refusals.append(
                refusal(
                    "contract_not_certified",
                    "A rented or borrowed residence needs a notarised or certified contract.",
                    "Luật Cư trú 2020, Điều 20 khoản 3; Nghị định 154/2024/NĐ-CP Điều 5",
                    "Trường hợp thuê, mượn, ở nhờ chỗ ở hợp pháp phải có hợp đồng, văn bản cho thuê, cho mượn, cho ở "
                    "nhờ đã được công chứng hoặc chứng thực.",
                )
            )
        if head_id is not None and head_id != applicant_id and submission.consent_of(
            ConsentRole.HOUSEHOLD_HEAD, head_id
        ) is None:
            refusals.append(_missing_consent("household_head_consent_missing", "the household head"))
        area_each = residence.floor_area_m2 / (residence.member_count + 1)
        minimum = max(MIN_FLOOR_AREA_PER_PERSON_M2, facts.provincial_min_floor_area_m2)
        if area_each < minimum:
            refusals.append(
                refusal(
                    "floor_area_too_small",
                    f"Floor area per person would be {area_each:.1f} m², below the minimum of {minimum} m².",
                    "Luật Cư trú 2020, Điều 20 khoản 3 điểm b",
                    f"Nếu đăng ký thường trú thêm người đề nghị thì diện tích nhà ở bình quân là "
                    f"{_vi_number(f'{area_each:.1f}')} m² sàn/người, thấp hơn diện tích nhà ở tối thiểu "
                    f"{_vi_number(str(minimum))} m² sàn/người.",
                )
            )
    # The owner's consent may come as owner or, when the owner heads the household, as its head (one CT01).
    owner = residence.owner_id
    if owner not in (None, applicant_id) and not any(c.personal_id == owner for c in submission.consents):
        refusals.append(_missing_consent("owner_consent_missing", "the owner of the residence"))
    return refusals


def _vi_number(text: str) -> str:
    """A decimal as written in Vietnamese: a comma before the decimals (``7.5`` → ``7,5``)."""
    return text.replace(".", ",")


def _missing_consent(code: str, who: str) -> Refusal:
    return missing_consent(code, who)


# Imported here, after the facts models, because the rule modules read them (only for type annotations).
from domain import rules_declarations, rules_deletion, rules_household, rules_temporary  # noqa: E402

RULES: dict[Procedure, Callable[..., list[Refusal]]] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: permanent_registration_refusals,
    Procedure.PERMANENT_RESIDENCE_DELETION: rules_deletion.permanent_deletion_refusals,
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: rules_temporary.temporary_registration_refusals,
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: rules_temporary.temporary_extension_refusals,
    Procedure.TEMPORARY_RESIDENCE_DELETION: rules_deletion.temporary_deletion_refusals,
    Procedure.HOUSEHOLD_SEPARATION: rules_household.household_separation_refusals,
    Procedure.RESIDENCE_INFO_ADJUSTMENT: rules_household.residence_adjustment_refusals,
    Procedure.RESIDENCE_DECLARATION: rules_declarations.residence_declaration_refusals,
    Procedure.RESIDENCE_CONFIRMATION: rules_declarations.residence_confirmation_refusals,
    Procedure.STAY_NOTIFICATION: rules_declarations.stay_notification_refusals,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: rules_declarations.temporary_absence_refusals,
}


def eligibility_refusals(submission: SubmissionBase, facts: HouseholdFacts) -> list[Refusal]:
    """The procedure's own rules (identity was checked before, by ``identity_refusals``)."""
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    return RULES[procedure](submission, facts)


# Which deadline applies, for procedures whose time depends on the facts (e.g. data in CSDLQG or not).
DEADLINE_CASES: dict[Procedure, Callable[..., DeadlineCase]] = {
    Procedure.RESIDENCE_DECLARATION: rules_declarations.residence_declaration_deadline_case,
    Procedure.RESIDENCE_CONFIRMATION: rules_declarations.residence_confirmation_deadline_case,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: rules_declarations.temporary_absence_deadline_case,
}

# Findings that refuse nothing but the officer must see (a filing after its window, a late stay notification).
NOTES: dict[Procedure, Callable[..., list[str]]] = {
    Procedure.PERMANENT_RESIDENCE_DELETION: rules_deletion.deletion_notes,
    Procedure.TEMPORARY_RESIDENCE_DELETION: rules_deletion.deletion_notes,
    Procedure.STAY_NOTIFICATION: rules_declarations.stay_notification_notes,
}


def notes_for(submission: SubmissionBase, facts: HouseholdFacts) -> list[str]:
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    note = NOTES.get(procedure)
    return note(submission, facts) if note else []


def deadline_case_for(submission: SubmissionBase, facts: HouseholdFacts) -> DeadlineCase:
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    choose = DEADLINE_CASES.get(procedure)
    return choose(submission, facts) if choose else DeadlineCase.STANDARD
