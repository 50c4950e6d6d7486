"""Đăng ký thường trú — TTHC 1.004222: Luật Cư trú 2020, Điều 20–23.

Eligible on one of three bases: the applicant's own legal residence; joining a relative's household (with the
household head's consent); rented, borrowed or lodged housing with a notarised or certified contract, the owner's
consent and at least the minimum floor area per person. Registering a new permanent residence ends the previous one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Address, ConsentRole, PersonalId, Refusal, SubmissionBase
from domain.procedures.common import (
    NO_HOUSEHOLD_TO_JOIN_VI,
    RESIDENCE_UNKNOWN_VI,
    Details,
    Relation,
    barred_place,
    minor_needs_guardian,
    missing_consent,
    refusal,
    wrong_authority,
)
from domain.procedures.plan import CreateHousehold, EndRecord, JoinHousehold, RecordPlan, Ref, StartRecord, Step
from domain.procedures.spec import Need, ProcedureSpec

BASIS = "Luật Cư trú 2020, Điều 20"
MIN_FLOOR_AREA_PER_PERSON_M2 = Decimal(8)  # Điều 20 khoản 3: never below 8 m², provinces may set more
COMPLETED_TEXT = "Hồ sơ đã được giải quyết; thông tin cư trú đã được cập nhật vào Cơ sở dữ liệu về cư trú."


class PermanentResidenceDetails(Details):
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
                + barred_place(residence.barred_reason)
                + minor_needs_guardian(submission, facts.applicant.birth_date, f"{BASIS} khoản 2 điểm c, d"))
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
            refusals.append(missing_consent("household_head_consent_missing", "the household head"))
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
            refusals.append(missing_consent("household_head_consent_missing", "the household head"))
        area_each = residence.floor_area_m2 / (residence.member_count + 1)
        minimum = max(MIN_FLOOR_AREA_PER_PERSON_M2, facts.provincial_min_floor_area_m2 or MIN_FLOOR_AREA_PER_PERSON_M2)
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
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence"))
    return refusals


def _vi_number(text: str) -> str:
    """A decimal as written in Vietnamese: a comma before the decimals (``7.5`` → ``7,5``)."""
    return text.replace(".", ",")


def plan(submission: PermanentResidenceRegistrationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """The new record starts, the previous permanent residence ends (Điều 20 khoản 5); the person joins the
    household at the residence, or heads a new one when none lives there."""
    person = submission.applicant.personal_id
    residence = facts.residence
    assert residence is not None, "eligibility guarantees a known residence"
    steps: list[Step] = [
        EndRecord(kind="permanent", personal_id=person, on=None, output="ended_record_id"),
        StartRecord(kind="permanent", personal_id=person, residence_id=residence.residence_id, valid_from=None,
                    valid_to=None, output="record_id"),
    ]
    summary: dict[str, str] = {}
    household: int | Ref
    if residence.household_id is None:
        steps.append(CreateHousehold(residence_id=residence.residence_id, head_id=person, output="household_id"))
        household, relation = Ref("household_id"), "head"
    else:
        household = residence.household_id
        summary["household_id"] = str(household)
        relation = ("head" if residence.household_head_id == person
                    else submission.details.relation_to_head or "other_relative")
    steps.append(JoinHousehold(personal_id=person, household=household, relation=relation))
    return RecordPlan(steps=tuple(steps), summary=summary)


SPEC: ProcedureSpec[PermanentResidenceRegistrationSubmission] = ProcedureSpec(
    procedure=Procedure.PERMANENT_RESIDENCE_REGISTRATION,
    vietnamese_name="Đăng ký thường trú",
    tthc_code="1.004222",
    legal_basis="Luật Cư trú 2020, Điều 20–23",
    submission=PermanentResidenceRegistrationSubmission,
    officer_review=True,
    has_fee=True,
    results=(DocumentKind.CT08,),
    needs=frozenset({Need.PLACE, Need.CURRENT_PERMANENT}),
    refusals=permanent_registration_refusals,
    plan=plan,
    result_text=lambda recorded: COMPLETED_TEXT,
    place=lambda submission: submission.details.residence,
)
