"""Đăng ký tạm trú — TTHC 1.004194: Luật Cư trú 2020, Điều 27–28.

Thresholds come from the rule set in force on the day of receipt (``temporary_residence``): the 30-day trigger and
the 2-year maximum term. The rented housing's contract needs no notarisation here (unlike permanent registration),
and joining a relative needs no proof of residence, only consent.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from domain.admin_units import format_address
from domain.calendar import format_date, local_date
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Address, ConsentRole, Refusal, SubmissionBase
from domain.procedures.common import (
    NO_HOUSEHOLD_TO_JOIN_VI,
    RESIDENCE_UNKNOWN_VI,
    Details,
    Relation,
    barred_place,
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


class TemporaryResidenceRegistrationDetails(Details):
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
    return refusals


def plan(submission: TemporaryResidenceRegistrationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """A new term from today, at most the rule set's maximum; a previous one ends (a move)."""
    person, details = submission.applicant.personal_id, submission.details
    assert facts.residence is not None, "eligibility guarantees a known residence"
    valid_to = max(min(details.requested_until,
                       max_term_end(today, rules_for(submission.received_at).temporary_residence.max_term_months)),
                   today)
    place = details.residence
    return RecordPlan(
        steps=(EndRecord(kind="temporary", personal_id=person, on=today, output="ended_record_id"),
               StartRecord(kind="temporary", personal_id=person, residence_id=facts.residence.residence_id,
                           valid_from=today, valid_to=valid_to, output="record_id")),
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
    needs=frozenset({Need.PLACE, Need.RECORDS}),
    refusals=temporary_registration_refusals,
    plan=plan,
    result_text=result_text,
    place=lambda submission: submission.details.residence,
)
