"""Đăng ký thường trú — TTHC 1.004222: Luật Cư trú 2020, Điều 20–23.

Eligible on one of three bases: the applicant's own legal residence; joining a relative's household (with the
household head's consent); rented, borrowed or lodged housing with a notarised or certified contract, the owner's
consent and at least the minimum floor area per person. Registering a new permanent residence ends the previous one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from domain.attachments import AttachmentKind
from domain.facts import HouseholdFacts, ResidenceFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Address, ConsentRole, PersonalId, Refusal, SubmissionBase
from domain.procedures.common import (
    ADULT_AGE,
    NO_HOUSEHOLD_TO_JOIN_VI,
    RESIDENCE_UNKNOWN_VI,
    Details,
    Relation,
    age_on,
    barred_place,
    minor_needs_guardian,
    missing_consent,
    received_on,
    refusal,
    wrong_authority,
)
from domain.procedures.plan import CreateHousehold, EndRecord, JoinHousehold, RecordPlan, Ref, StartRecord, Step
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import min_floor_area_per_person

BASIS = "Luật Cư trú 2020, Điều 20"
COMPLETED_TEXT = "Hồ sơ đã được giải quyết; thông tin cư trú đã được cập nhật vào Cơ sở dữ liệu về cư trú."


class PermanentResidenceDetails(Details):
    """Đăng ký thường trú (Luật Cư trú Điều 20): on which legal basis, and where."""

    basis: Literal["own_residence", "join_relative", "rented_or_borrowed"]
    residence: Address
    relation_to_head: Relation | None = Field(
        default=None, description="for join_relative: the applicant's relation to the household head"
    )
    declared_floor_area_m2: Decimal | None = Field(default=None, gt=0, le=100_000)
    contract_certified: bool = Field(
        default=False, json_schema_extra={"deprecated": True},
        description="no longer read: attach the certified contract (certified_rental_contract) instead; kept so "
                    "that submissions filed before attachments still validate")
    owner_id: PersonalId | None = Field(default=None, description="owner of the residence, when not the applicant")
    joins_household: bool = Field(
        default=False, description="rented/borrowed: register into the household living there (its head consents) "
                                   "instead of as a household of one's own")
    incapacitated: bool = Field(
        default=False, description="join_relative: severely disabled, unable to work, or without capacity to "
                                   "perceive or control one's acts (Điều 20 khoản 2 điểm b)")
    overseas_vietnamese: bool = Field(
        default=False, description="a Vietnamese settled abroad without a valid Vietnamese passport: declares on "
                                   "CT02, and the immigration authority consents")

    @model_validator(mode="after")
    def _basis_needs(self) -> PermanentResidenceDetails:
        if self.basis == "join_relative" and self.relation_to_head is None:
            raise ValueError("relation_to_head is required when joining a relative (Điều 20 khoản 2)")
        return self


class PermanentResidenceRegistrationSubmission(SubmissionBase):
    procedure: Literal[Procedure.PERMANENT_RESIDENCE_REGISTRATION] = Procedure.PERMANENT_RESIDENCE_REGISTRATION
    details: PermanentResidenceDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.TITLE_DEED, AttachmentKind.CERTIFIED_RENTAL_CONTRACT, AttachmentKind.FLOOR_AREA_PROOF,
        AttachmentKind.CONSENT_LETTER, AttachmentKind.BIRTH_CERTIFICATE, AttachmentKind.MARRIAGE_CERTIFICATE,
        AttachmentKind.RELATIONSHIP_PROOF, AttachmentKind.OTHER,
    )


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
        refusals += relation_refusals(submission, facts)
        if head_id is None:
            refusals.append(
                refusal("no_household_to_join", "No household lives at this residence to join.",
                        "Luật Cư trú 2020, Điều 20 khoản 2", NO_HOUSEHOLD_TO_JOIN_VI)
            )
        elif submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, head_id) is None:
            refusals.append(missing_consent("household_head_consent_missing", "the household head"))
    else:
        if not submission.attached(AttachmentKind.CERTIFIED_RENTAL_CONTRACT):
            refusals.append(
                refusal(
                    "contract_not_certified",
                    "A rented or borrowed residence needs a notarised or certified contract: attach it "
                    "(kind certified_rental_contract).",
                    "Luật Cư trú 2020, Điều 20 khoản 3; Nghị định 154/2024/NĐ-CP Điều 5",
                    "Trường hợp thuê, mượn, ở nhờ chỗ ở hợp pháp phải có hợp đồng, văn bản cho thuê, cho mượn, cho ở "
                    "nhờ đã được công chứng hoặc chứng thực.",
                )
            )
        if head_consent_needed(details, residence, applicant_id) and submission.consent_of(
            ConsentRole.HOUSEHOLD_HEAD, head_id
        ) is None:
            refusals.append(missing_consent("household_head_consent_missing", "the household head"))
        # Everyone registered at the address counts, whichever household they belong to (after a separation).
        area_each = residence.floor_area_m2 / (residence.occupants + 1)
        minimum = min_floor_area_per_person(received_on(submission), facts.provincial_min_floor_area_m2)
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
    consenting = {c.personal_id for c in submission.consents}
    if any(owner not in consenting for owner in owners_who_consent(residence) if owner != applicant_id):
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence"))
    return refusals


def owners_who_consent(residence: ResidenceFacts) -> tuple[str, ...]:
    """Chủ sở hữu đồng ý: every co-owner consents, unless they appointed one of them to consent for all."""
    if residence.owners_representative_id is not None:
        return (residence.owners_representative_id,)
    owners = ((residence.owner_id,) if residence.owner_id else ()) + residence.co_owner_ids
    return tuple(dict.fromkeys(owners))


def head_consent_needed(details: PermanentResidenceDetails, residence: ResidenceFacts, applicant_id: str) -> bool:
    """Chủ hộ đồng ý (Điều 20 khoản 3 điểm a): in rented, borrowed or lodged housing only when registering into
    the household living there; joining a relative always joins the household (khoản 2)."""
    head = residence.household_head_id
    if head is None or head == applicant_id:
        return False
    return details.basis == "join_relative" or details.joins_household


ELDERLY_AGE = 60  # Luật Người cao tuổi 2009, Điều 2: người cao tuổi is 60 or older
# Luật Cư trú 2020 Điều 20 khoản 2: whom one may join, by the applicant's relation to the person joined.
_ANYONE_JOINS: frozenset[Relation] = frozenset({"spouse", "child", "parent"})  # điểm a
_ELDERLY_JOINS: frozenset[Relation] = frozenset({"sibling", "grandparent", "uncle_aunt"})  # điểm b, first clause
_INCAPACITATED_JOINS: frozenset[Relation] = frozenset(
    {"grandchild", "sibling", "nephew_niece", "grandparent", "uncle_aunt", "ward"})  # điểm b, second clause
_MINOR_JOINS: frozenset[Relation] = frozenset(
    {"great_grandchild", "grandchild", "sibling", "nephew_niece", "ward"})  # điểm c


def may_join_relative(relation: Relation, age: int, incapacitated: bool) -> bool:
    """Về ở với người thân (Điều 20 khoản 2): spouse, child and parent always; an elderly person (60+) a sibling,
    grandchild, nephew or niece; an incapacitated person also a grandparent, uncle or aunt, or their guardian; a minor
    a great-grandparent, grandparent, sibling, uncle or aunt, or their guardian."""
    return (relation in _ANYONE_JOINS
            or (age >= ELDERLY_AGE and relation in _ELDERLY_JOINS)
            or (incapacitated and relation in _INCAPACITATED_JOINS)
            or (age < ADULT_AGE and relation in _MINOR_JOINS))


def relation_refusals(submission: PermanentResidenceRegistrationSubmission, facts: HouseholdFacts) -> list[Refusal]:
    details = submission.details
    assert details.relation_to_head is not None, "the details model requires it when joining a relative"
    age = age_on(facts.applicant.birth_date, received_on(submission))
    if may_join_relative(details.relation_to_head, age, details.incapacitated):
        return []
    return [refusal(
        "relation_not_eligible",
        "This relation does not allow registering with the relative (Luật Cư trú Điều 20 khoản 2); "
        "choose another basis or file proof that one of its cases applies.",
        f"{BASIS} khoản 2",
        "Quan hệ với người mà công dân về ở cùng không thuộc các trường hợp được đăng ký thường trú theo khoản 2 "
        "Điều 20 Luật Cư trú; đề nghị chọn căn cứ đăng ký khác hoặc bổ sung giấy tờ chứng minh thuộc trường hợp "
        "được đăng ký.")]


def registration_notes(submission: PermanentResidenceRegistrationSubmission, facts: HouseholdFacts) -> list[str]:
    """What the officer must still see to: papers and routes that refuse nothing by themselves."""
    details = submission.details
    notes = []
    if details.basis == "join_relative":
        notes.append(RELATIONSHIP_PROOF_NOTE)
    if details.overseas_vietnamese:
        notes.append(OVERSEAS_NOTE)
    if details.basis == "rented_or_borrowed" and details.declared_floor_area_m2 is not None and (
            facts.residence is None or details.declared_floor_area_m2 != facts.residence.floor_area_m2):
        notes.append(COMMUNE_COMMITTEE_NOTE)
    return notes


# Thông tư 55/2021/TT-BCA Điều 6 (papers); Nghị định 154/2024/NĐ-CP: proof unless the relation is in CSDLQG.
RELATIONSHIP_PROOF_NOTE = ("Proof of relationship (giấy tờ chứng minh quan hệ nhân thân) is required unless the "
                           "relation is recorded in the national population database: check it, or request it (CT05).")
# Luật Cư trú 2020 Điều 20, 22; Thông tư 55/2021/TT-BCA Điều 6 khoản 2: CT02, and the immigration authority's
# consent, asked through the provincial immigration office.
OVERSEAS_NOTE = ("Overseas Vietnamese without a valid Vietnamese passport: the declaration is form CT02, and the "
                 "consent of the immigration authority (Cục Quản lý xuất nhập cảnh) is asked through the provincial "
                 "immigration office before the decision.")
# Nghị định 154/2024/NĐ-CP Điều 5: a floor area the records do not show is confirmed by the commune People's
# Committee (Ủy ban nhân dân cấp xã), to which the police send the request.
COMMUNE_COMMITTEE_NOTE = ("The declared floor area differs from the records (or the place is not recorded): the "
                          "confirmation is requested from the commune People's Committee (Ủy ban nhân dân cấp xã).")


def _vi_number(text: str) -> str:
    """A decimal as written in Vietnamese: a comma before the decimals (``7.5`` → ``7,5``)."""
    return text.replace(".", ",")


def plan(submission: PermanentResidenceRegistrationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """The new record starts, the previous permanent residence ends (Điều 20 khoản 5); the person joins the
    household at the residence, or heads a new one when none lives there or when a tenant registers on their own."""
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
    details = submission.details
    own_household = (details.basis == "rented_or_borrowed" and not details.joins_household
                     and residence.household_head_id != person)
    if residence.household_id is None or own_household:
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
    needs=frozenset({Need.PLACE, Need.CURRENT_PERMANENT, Need.PROVINCIAL}),
    refusals=permanent_registration_refusals,
    notes=registration_notes,
    plan=plan,
    result_text=lambda recorded: COMPLETED_TEXT,
    place=lambda submission: submission.details.residence,
)
