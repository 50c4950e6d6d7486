"""Tách hộ — TTHC 1.010038: Luật Cư trú 2020, Điều 25.

Members with full civil capacity (at least one of them, and the new head) leave the household for a new one at
the same residence, with the consent of the household head or the owner; divorced spouses staying on show the
divorce and their right to the residence instead.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from domain.attachments import AttachmentKind
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import ConsentRole, PersonalId, Refusal, SubmissionBase
from domain.procedures.common import (
    Details,
    Relation,
    has_full_capacity,
    missing_consent,
    no_household,
    received_on,
    refusal,
    wrong_authority,
)
from domain.procedures.plan import CreateHousehold, MoveMember, RecordPlan, Ref, Step
from domain.procedures.spec import Need, ProcedureSpec

BASIS = "Luật Cư trú 2020, Điều 25"


class SeparatingMember(Details):
    personal_id: PersonalId
    relation_to_new_head: Literal["head"] | Relation


class DivorceProof(Details):
    """Divorced spouses staying at the same residence (Điều 25 khoản 2): the papers proving the divorce
    (divorce_decision) and the right to stay (residence_right_proof or title_deed) are attachments.

    The two booleans are no longer read: kept so that submissions filed before attachments still validate."""

    divorce_proven: Literal[True] | None = Field(default=None, json_schema_extra={"deprecated": True})
    right_to_use_residence_proven: bool | None = Field(default=None, json_schema_extra={"deprecated": True})


class HouseholdSeparationDetails(Details):
    """Tách hộ (Điều 25): who splits off from the applicant's household, and who heads the new one."""

    members: tuple[SeparatingMember, ...] = Field(min_length=1, max_length=20)
    divorce: DivorceProof | None = None

    @model_validator(mode="after")
    def _one_new_head(self) -> HouseholdSeparationDetails:
        ids = [m.personal_id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("members: each person is listed once")
        if sum(m.relation_to_new_head == "head" for m in self.members) != 1:
            raise ValueError("members: exactly one member is the head of the new household (relation 'head')")
        return self

    @property
    def new_head_id(self) -> str:
        return next(m.personal_id for m in self.members if m.relation_to_new_head == "head")


class HouseholdSeparationSubmission(SubmissionBase):
    procedure: Literal[Procedure.HOUSEHOLD_SEPARATION] = Procedure.HOUSEHOLD_SEPARATION
    details: HouseholdSeparationDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.CONSENT_LETTER, AttachmentKind.DIVORCE_DECISION, AttachmentKind.RESIDENCE_RIGHT_PROOF,
        AttachmentKind.TITLE_DEED, AttachmentKind.OTHER,
    )


def household_separation_refusals(submission: HouseholdSeparationSubmission, facts: HouseholdFacts) -> list[Refusal]:
    """Tách hộ: members with full civil capacity (at least one of them, and the new head) leave the household."""
    household = facts.records.household if facts.records else None
    if household is None:
        return no_household(BASIS)
    details = submission.details
    on = received_on(submission)
    applicant_id = submission.applicant.personal_id
    ids = [m.personal_id for m in details.members]
    refusals = wrong_authority(submission, household.commune_code, "the household's residence")
    if applicant_id not in ids and applicant_id != household.head_id:
        refusals.append(refusal("not_entitled_to_file",
                                "A member who splits off, or the household head, files the separation.",
                                BASIS,
                                "Người nộp hồ sơ tách hộ phải là thành viên đề nghị tách hộ hoặc chủ hộ."))
    if any(household.member(pid) is None for pid in ids):
        refusals.append(refusal("members_not_in_household",
                                "Everyone listed must be a member of the applicant's household.", BASIS,
                                "Những người có tên trong danh sách đề nghị tách hộ phải là thành viên của hộ gia đình "
                                "người đề nghị."))
        return refusals
    if household.head_id in ids:
        # Also why the whole household can never be listed: the head always stays with the old household.
        refusals.append(refusal("head_cannot_separate",
                                "The household head does not split off: the other members do, or the head changes "
                                "first (điều chỉnh thông tin về cư trú).", BASIS,
                                "Chủ hộ không thuộc diện tách hộ: các thành viên khác tách hộ, hoặc phải làm thủ tục "
                                "điều chỉnh thông tin về cư trú để thay đổi chủ hộ trước."))
    members = {m.personal_id: m for m in household.members}
    capable = [pid for pid in ids if has_full_capacity(members[pid], on)]
    if not capable:
        refusals.append(refusal("no_member_with_full_capacity",
                                "A member who splits off must have full civil legal capacity; when several split off "
                                "together, at least one must.", f"{BASIS} khoản 1",
                                "Thành viên tách hộ phải có năng lực hành vi dân sự đầy đủ; trường hợp nhiều thành "
                                "viên cùng tách hộ thì ít nhất một người phải có năng lực hành vi dân sự đầy đủ."))
    elif details.new_head_id not in capable:
        refusals.append(refusal("new_head_without_full_capacity",
                                "The head of the new household must be a member with full civil legal capacity.",
                                f"{BASIS} khoản 1; Điều 10",
                                "Chủ hộ của hộ gia đình mới phải là thành viên có năng lực hành vi dân sự đầy đủ."))
    if details.divorce is not None:
        # Divorced spouses staying on show the divorce and their right to the residence instead of consent.
        if not submission.attached(AttachmentKind.DIVORCE_DECISION):
            refusals.append(refusal("divorce_unproven",
                                    "Separation after a divorce needs the court's divorce decision: attach it "
                                    "(kind divorce_decision).", f"{BASIS} khoản 2",
                                    "Trường hợp tách hộ sau ly hôn phải có bản án, quyết định ly hôn của Tòa án."))
        if not submission.attached(AttachmentKind.RESIDENCE_RIGHT_PROOF, AttachmentKind.TITLE_DEED):
            refusals.append(refusal("divorce_residence_right_unproven",
                                    "After a divorce, separation at the same residence needs proof of the continued "
                                    "right to use the residence: attach it (kind residence_right_proof or "
                                    "title_deed).", f"{BASIS} khoản 2",
                                    "Trường hợp tách hộ sau ly hôn tại cùng chỗ ở hợp pháp phải có giấy tờ, tài liệu "
                                    "chứng minh vẫn được tiếp tục sử dụng chỗ ở đó."))
    elif submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, household.head_id) is None and (
        household.owner_id is None or submission.consent_of(ConsentRole.OWNER, household.owner_id) is None
    ):
        refusals.append(missing_consent("household_head_consent_missing", "the household head or the owner",
                                        f"{BASIS} khoản 2"))
    return refusals


def plan(submission: HouseholdSeparationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """A new household at the same residence, created by this dossier; the members move into it."""
    assert facts.records is not None and facts.records.household is not None, "eligibility found the household"
    old = facts.records.household
    details = submission.details
    steps: list[Step] = [CreateHousehold(residence_id=old.residence_id, head_id=details.new_head_id,
                                         output="household_id")]
    steps += [MoveMember(personal_id=member.personal_id, from_household=old.household_id,
                         to_household=Ref("household_id"), relation=member.relation_to_new_head)
              for member in details.members]
    return RecordPlan(steps=tuple(steps), summary={"from_household_id": str(old.household_id),
                                                   "members": str(len(details.members))})


SPEC: ProcedureSpec[HouseholdSeparationSubmission] = ProcedureSpec(
    procedure=Procedure.HOUSEHOLD_SEPARATION,
    vietnamese_name="Tách hộ",
    tthc_code="1.010038",
    legal_basis=BASIS,
    submission=HouseholdSeparationSubmission,
    officer_review=True,
    has_fee=True,
    results=(DocumentKind.CT08,),
    needs=frozenset({Need.RECORDS}),
    refusals=household_separation_refusals,
    plan=plan,
    result_text=lambda recorded: (f"Đã tách hộ, lập hộ gia đình mới gồm {recorded['members']} thành viên tại cùng "
                                  "chỗ ở hợp pháp."),
)
