"""Xóa đăng ký tạm trú — TTHC 1.010028: Luật Cư trú 2020, Điều 29.

The case list and what the deletion records are shared with the other deletion (``domain.procedures.deletion``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from domain.attachments import AttachmentKind
from domain.kinds import Procedure
from domain.procedures.deletion import (
    DeletionCase,
    DeletionDetails,
    DeletionKind,
    DeletionSubmission,
    deletion_spec,
)
from domain.procedures.spec import ProcedureSpec

BASIS = "Luật Cư trú 2020, Điều 29"


class TemporaryDeletionCase(StrEnum):
    """Cases of Luật Cư trú Điều 29 khoản 1 (xóa đăng ký tạm trú).

    Death (or a court declaration) and loss of nationality are confirmed by the specification; the others are
    UNCONFIRMED readings of the same article. The six-month absence case is not offered: its threshold is not
    in the rule sets.
    """

    DEATH = "death"
    DECLARED_MISSING_OR_DEAD = "declared_missing_or_dead"
    LOST_NATIONALITY = "lost_nationality"
    CANCELLATION_DECISION = "cancellation_decision"  # UNCONFIRMED
    REGISTERED_PERMANENT_HERE = "registered_permanent_here"  # UNCONFIRMED: now a permanent resident at that place
    HOUSING_ENDED = "housing_ended"  # UNCONFIRMED: tenancy or loan ended (the landlord notifies)
    RESIDENCE_TRANSFERRED = "residence_transferred"  # UNCONFIRMED: new owner does not consent
    # Nghị định 62/2021/NĐ-CP Điều 9, now Nghị định 154/2024/NĐ-CP (UNCONFIRMED article): a registration made without
    # the conditions or by the wrong authority is annulled, and the annulment recorded within 1 working day (the rule
    # set's "annulment" deadline).
    IMPROPER_REGISTRATION = "improper_registration"


CASES: dict[TemporaryDeletionCase, DeletionCase] = {
    TemporaryDeletionCase.DEATH: DeletionCase(point="khoản 1 điểm a", vietnamese="người đã chết",
                                              death_recorded=True),
    TemporaryDeletionCase.DECLARED_MISSING_OR_DEAD: DeletionCase(
        point="khoản 1 điểm a", vietnamese="có quyết định của Tòa án tuyên bố mất tích hoặc đã chết"),
    TemporaryDeletionCase.LOST_NATIONALITY: DeletionCase(
        point="khoản 1", vietnamese="thôi quốc tịch, bị tước quốc tịch Việt Nam"),
    TemporaryDeletionCase.CANCELLATION_DECISION: DeletionCase(
        point="khoản 1", vietnamese="đã có quyết định hủy bỏ đăng ký tạm trú", confirmed=False),
    TemporaryDeletionCase.REGISTERED_PERMANENT_HERE: DeletionCase(
        point="khoản 1", vietnamese="đã đăng ký thường trú tại chính nơi tạm trú", permanent_here=True,
        confirmed=False),
    TemporaryDeletionCase.HOUSING_ENDED: DeletionCase(
        point="khoản 1", vietnamese="đã chấm dứt thuê, mượn, ở nhờ chỗ ở tạm trú", confirmed=False),
    TemporaryDeletionCase.RESIDENCE_TRANSFERRED: DeletionCase(
        point="khoản 1", vietnamese="chỗ ở tạm trú đã chuyển quyền sở hữu, chủ sở hữu mới không đồng ý",
        new_owner_may_consent=True, confirmed=False),
    TemporaryDeletionCase.IMPROPER_REGISTRATION: DeletionCase(
        point="khoản 1", vietnamese="việc đăng ký tạm trú không đúng thẩm quyền, không đúng điều kiện bị hủy bỏ",
        annulment=True, confirmed=False),
}

KIND = DeletionKind(record="temporary", basis=BASIS, cases=CASES,
                    filing_days=lambda rules: rules.temporary_residence.deletion_filing_days,
                    notice_days=lambda rules: rules.temporary_residence.ex_officio_deletion_after_notice_days)


class TemporaryResidenceDeletionDetails(DeletionDetails):
    """Xóa đăng ký tạm trú (Điều 29)."""

    case: TemporaryDeletionCase


class TemporaryResidenceDeletionSubmission(DeletionSubmission):
    deletion: ClassVar[DeletionKind] = KIND
    procedure: Literal[Procedure.TEMPORARY_RESIDENCE_DELETION] = Procedure.TEMPORARY_RESIDENCE_DELETION
    details: TemporaryResidenceDeletionDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.DEATH_CERTIFICATE, AttachmentKind.COURT_DECISION, AttachmentKind.OTHER,
    )


SPEC: ProcedureSpec[TemporaryResidenceDeletionSubmission] = deletion_spec(
    Procedure.TEMPORARY_RESIDENCE_DELETION, vietnamese_name="Xóa đăng ký tạm trú", tthc_code="1.010028",
    submission=TemporaryResidenceDeletionSubmission, what="tạm trú")
