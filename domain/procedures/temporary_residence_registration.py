"""Đăng ký tạm trú — TTHC 1.004194: Luật Cư trú 2020, Điều 27–28.

Thresholds come from the rule set in force on the day of receipt (``temporary_residence``): the 30-day trigger and
the 2-year maximum term. The rented housing's contract needs no notarisation here (unlike permanent registration),
and joining a relative needs no proof of residence, only consent.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from domain.admin_units import format_address
from domain.attachments import AttachmentKind
from domain.calendar import format_date, local_date
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Address, ConsentRole, PersonalId, Refusal, SubmissionBase
from domain.procedures.common import (
    NO_HOUSEHOLD_TO_JOIN_VI,
    RESIDENCE_UNKNOWN_VI,
    Details,
    Relation,
    Text,
    barred_place,
    late_filing_note,
    max_term_end,
    minor_needs_guardian,
    missing_consent,
    received_on,
    refusal,
    wrong_authority,
)
from domain.procedures.plan import EndRecord, RecordPlan, StartRecord
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import rules_for

BASIS = "Luật Cư trú 2020, Điều 27–28"


class RegistrationList(Details):
    """Đăng ký tạm trú theo danh sách (Thông tư 55/2021/TT-BCA Điều 7 khoản 2, now Thông tư 116/2026/TT-BCA): the
    managing organisation's letter listing the people, each of whom signs a CT01; the fee is per person."""

    organisation: Text
    letter_number: str = Field(min_length=1, max_length=60)
    others: tuple[PersonalId, ...] = Field(min_length=1, max_length=500,
                                           description="the people listed besides the applicant, each with a CT01")


class Newborn(Details):
    """A child whose parents hold only a temporary residence (Luật Cư trú 2020 Điều 27 khoản 4; the birth certificate
    is not asked: the birth is in the civil-status database)."""

    child_id: PersonalId
    birth_registered_on: date


class TemporaryResidenceRegistrationDetails(Details):
    """Đăng ký tạm trú (Điều 27): where, on which basis, until when (at most the rule set's maximum term)."""

    basis: Literal["own_residence", "join_relative", "rented_or_borrowed"]
    residence: Address
    relation_to_head: Relation | None = None
    requested_until: date = Field(description="last day of the requested term")
    by_list: RegistrationList | None = Field(
        default=None, description="registration by list: the managing organisation's letter and the others listed")
    newborn: Newborn | None = Field(
        default=None, description="parents with only a temporary residence register their newborn child here")

    @model_validator(mode="after")
    def _basis_needs(self) -> TemporaryResidenceRegistrationDetails:
        if self.basis == "join_relative" and self.relation_to_head is None:
            raise ValueError("relation_to_head is required when joining a relative (Điều 20 khoản 2)")
        return self


class TemporaryResidenceRegistrationSubmission(SubmissionBase):
    procedure: Literal[Procedure.TEMPORARY_RESIDENCE_REGISTRATION] = Procedure.TEMPORARY_RESIDENCE_REGISTRATION
    details: TemporaryResidenceRegistrationDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.TITLE_DEED, AttachmentKind.RENTAL_CONTRACT, AttachmentKind.CONSENT_LETTER,
        AttachmentKind.BIRTH_CERTIFICATE, AttachmentKind.MARRIAGE_CERTIFICATE, AttachmentKind.RELATIONSHIP_PROOF,
        AttachmentKind.ORGANISATION_LETTER, AttachmentKind.OTHER,
    )

    @model_validator(mode="after")
    def _term_after_receipt(self) -> TemporaryResidenceRegistrationSubmission:
        if self.details.requested_until <= local_date(self.received_at):
            raise ValueError("details.requested_until must be after the day the dossier is received")
        return self


def temporary_registration_refusals(submission: TemporaryResidenceRegistrationSubmission,
                                    facts: HouseholdFacts) -> list[Refusal]:
    """Đăng ký tạm trú, Luật Cư trú Điều 27–28."""
    details = submission.details
    residence = facts.residence
    if residence is None:
        return [refusal("residence_unknown", "No legal residence is recorded at this address; attach proof of legal "
                        "residence or check the address.", BASIS, RESIDENCE_UNKNOWN_VI)]
    rules = rules_for(submission.received_at).temporary_residence
    on = received_on(submission)
    refusals = (wrong_authority(submission, details.residence.commune_code, "the residence")
                + barred_place(residence.barred_reason)
                + minor_needs_guardian(submission, facts.applicant.birth_date, f"{BASIS}; Điều 20"))
    if (details.requested_until - on).days < rules.registration_trigger_days:
        refusals.append(refusal(
            "term_below_registration_trigger",
            f"Temporary residence is registered for a stay of {rules.registration_trigger_days} days or more; a "
            "shorter stay is notified as a stay (thông báo lưu trú) by the host.", "Luật Cư trú 2020, Điều 27 khoản 1",
            f"Đăng ký tạm trú áp dụng khi đến sinh sống tại chỗ ở từ {rules.registration_trigger_days} ngày trở lên; "
            "trường hợp ở ngắn hơn thì nơi có người đến lưu trú (hộ gia đình, cơ sở lưu trú) thực hiện thông báo lưu "
            "trú."))
    if details.requested_until > (longest := max_term_end(on, rules.max_term_months)):
        refusals.append(refusal(
            "term_too_long",
            f"A term lasts at most {rules.max_term_months} months: until {format_date(longest)} at the latest "
            "(it can be extended).", "Luật Cư trú 2020, Điều 27 khoản 3",
            f"Thời hạn tạm trú tối đa là {rules.max_term_months} tháng, tức là đến hết ngày {format_date(longest)}; "
            "khi hết thời hạn có thể làm thủ tục gia hạn tạm trú."))
    records = facts.records
    if records is not None and records.permanent is not None \
            and records.permanent.commune_code == details.residence.commune_code:
        refusals.append(refusal(
            "within_commune_of_permanent_residence",
            "The applicant's permanent residence is in this commune: temporary residence is registered only "
            "outside the commune of permanent residence.", "Luật Cư trú 2020, Điều 27 khoản 1",
            "Nơi thường trú của người đề nghị thuộc địa bàn xã, phường này; đăng ký tạm trú chỉ áp dụng khi đến sinh "
            "sống tại chỗ ở hợp pháp ngoài phạm vi đơn vị hành chính cấp xã nơi đã đăng ký thường trú."))
    if records is not None and records.temporary is not None \
            and records.temporary.residence_id == residence.residence_id:
        refusals.append(refusal("already_registered_here",
                                "The applicant already holds a temporary residence here; extend it instead.",
                                BASIS,
                                "Người đề nghị đã đăng ký tạm trú tại chỗ ở này; đề nghị làm thủ tục gia hạn tạm trú."))
    applicant_id = submission.applicant.personal_id
    if details.basis == "own_residence" and residence.owner_id != applicant_id:
        refusals.append(refusal("not_owner", "The records do not show the applicant as owner of this residence; "
                                "choose another basis or attach proof of ownership.", BASIS,
                                "Cơ sở dữ liệu về cư trú không ghi nhận người đề nghị là chủ sở hữu chỗ ở này; đề nghị "
                                "chọn căn cứ đăng ký khác hoặc bổ sung giấy tờ, tài liệu chứng minh quyền sở hữu chỗ "
                                "ở."))
    head_id = residence.household_head_id
    if details.basis == "join_relative":
        if head_id is None:
            refusals.append(refusal("no_household_to_join", "No household lives at this residence to join.",
                                    "Luật Cư trú 2020, Điều 20 khoản 2", NO_HOUSEHOLD_TO_JOIN_VI))
        elif head_id != applicant_id and submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, head_id) is None:
            refusals.append(missing_consent("household_head_consent_missing", "the household head", BASIS))
    if residence.owner_id not in (None, applicant_id) and submission.consent_of(
            ConsentRole.OWNER, residence.owner_id) is None:
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence", BASIS))
    return refusals + unknown_listed_people(submission, facts)


def registered_people(submission: TemporaryResidenceRegistrationSubmission) -> list[str]:
    """Whom the dossier registers: the applicant, everyone else on the list, and the newborn child."""
    details = submission.details
    return [submission.applicant.personal_id, *(details.by_list.others if details.by_list else ()),
            *((details.newborn.child_id,) if details.newborn else ())]


def others_named(submission: TemporaryResidenceRegistrationSubmission) -> list[str]:
    return registered_people(submission)[1:]


def list_fee_basis(submission: TemporaryResidenceRegistrationSubmission) -> tuple[int, bool]:
    """Lệ phí theo danh sách (Thông tư 75/2022/TT-BTC): per person listed when filed by list, else per dossier."""
    by_list = submission.details.by_list
    return (1 + len(by_list.others), True) if by_list else (1, False)


def unknown_listed_people(submission: TemporaryResidenceRegistrationSubmission,
                          facts: HouseholdFacts) -> list[Refusal]:
    missing = [pid for pid in others_named(submission) if facts.named_person(pid) is None]
    if not missing:
        return []
    return [refusal("listed_person_unknown",
                    f"{len(missing)} person(s) on the list or the newborn are not in the national population "
                    "database; check their personal ID numbers.", BASIS,
                    f"Có {len(missing)} người trong danh sách đăng ký (hoặc trẻ mới sinh) không có trong Cơ sở dữ liệu "
                    "quốc gia về dân cư; đề nghị kiểm tra lại số định danh cá nhân.")]


def newborn_note(submission: TemporaryResidenceRegistrationSubmission) -> list[str]:
    """Within 60 days (the rule set's) of the birth registration; later is recorded for the officer, not refused
    (the child must be registered anyway)."""
    newborn = submission.details.newborn
    if newborn is None:
        return []
    days = rules_for(submission.received_at).temporary_residence.newborn_registration_days
    note = late_filing_note(newborn.birth_registered_on, received_on(submission), days,
                            "Luật Cư trú 2020, Điều 27 khoản 4")
    return [note] if note else []


def plan(submission: TemporaryResidenceRegistrationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """A new term from today, at most the rule set's maximum, for everyone the dossier registers; a previous one
    ends (a move)."""
    details = submission.details
    assert facts.residence is not None, "eligibility guarantees a known residence"
    valid_to = max(min(details.requested_until,
                       max_term_end(today, rules_for(submission.received_at).temporary_residence.max_term_months)),
                   today)
    place = details.residence
    people = registered_people(submission)
    steps = [step for index, person in enumerate(people) for step in (
        EndRecord(kind="temporary", personal_id=person, on=today,
                  output="ended_record_id" if index == 0 else f"ended_record_id_{index}"),
        StartRecord(kind="temporary", personal_id=person, residence_id=facts.residence.residence_id,
                    valid_from=today, valid_to=valid_to, output="record_id" if index == 0 else f"record_id_{index}"))]
    return RecordPlan(
        steps=tuple(steps),
        summary={"valid_from": today.isoformat(), "valid_to": valid_to.isoformat(),
                 "address": format_address(place.province_code, place.commune_code, place.address_line)},
    )


def result_text(recorded: dict[str, str]) -> str:
    return (f"Đã đăng ký tạm trú tại {recorded['address']}, thời hạn từ ngày "
            f"{format_date(date.fromisoformat(recorded['valid_from']))} "
            f"đến ngày {format_date(date.fromisoformat(recorded['valid_to']))}.")


SPEC: ProcedureSpec[TemporaryResidenceRegistrationSubmission] = ProcedureSpec(
    procedure=Procedure.TEMPORARY_RESIDENCE_REGISTRATION,
    vietnamese_name="Đăng ký tạm trú",
    tthc_code="1.004194",
    legal_basis=BASIS,
    submission=TemporaryResidenceRegistrationSubmission,
    officer_review=True,
    has_fee=True,
    results=(DocumentKind.CT08,),
    needs=frozenset({Need.PLACE, Need.RECORDS, Need.NAMED}),
    refusals=temporary_registration_refusals,
    notes=lambda submission, facts: newborn_note(submission),
    named_ids=others_named,
    fee_basis=list_fee_basis,
    plan=plan,
    result_text=result_text,
    place=lambda submission: submission.details.residence,
)
