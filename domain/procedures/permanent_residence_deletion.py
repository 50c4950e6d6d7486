"""Xóa đăng ký thường trú — TTHC 1.003197: Luật Cư trú 2020, Điều 24.

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

BASIS = "Luật Cư trú 2020, Điều 24"


class PermanentDeletionCase(StrEnum):
    """Cases of Luật Cư trú Điều 24 khoản 1 (xóa đăng ký thường trú). Further cases are UNCONFIRMED."""

    DEATH = "death"  # a) chết
    DECLARED_MISSING_OR_DEAD = "declared_missing_or_dead"  # a) Tòa án tuyên bố mất tích hoặc đã chết
    SETTLED_ABROAD = "settled_abroad"  # b) ra nước ngoài để định cư
    CANCELLATION_DECISION = "cancellation_decision"  # c) quyết định hủy bỏ đăng ký thường trú
    ABSENT_12_MONTHS = "absent_12_months"  # d) vắng mặt liên tục từ 12 tháng trở lên
    LOST_NATIONALITY = "lost_nationality"  # đ) thôi, bị tước quốc tịch Việt Nam
    HOUSING_ENDED = "housing_ended"  # e) hết thuê, mượn, ở nhờ; 12 tháng chưa đăng ký nơi mới
    RESIDENCE_TRANSFERRED = "residence_transferred"  # g) chỗ ở đã chuyển quyền sở hữu; 12 tháng chưa đăng ký nơi mới


CASES: dict[PermanentDeletionCase, DeletionCase] = {
    PermanentDeletionCase.DEATH: DeletionCase(point="khoản 1 điểm a", vietnamese="người đã chết",
                                              death_recorded=True),
    PermanentDeletionCase.DECLARED_MISSING_OR_DEAD: DeletionCase(
        point="khoản 1 điểm a", vietnamese="có quyết định của Tòa án tuyên bố mất tích hoặc đã chết"),
    PermanentDeletionCase.SETTLED_ABROAD: DeletionCase(point="khoản 1 điểm b", vietnamese="ra nước ngoài để định cư"),
    PermanentDeletionCase.CANCELLATION_DECISION: DeletionCase(
        point="khoản 1 điểm c", vietnamese="đã có quyết định hủy bỏ đăng ký thường trú"),
    PermanentDeletionCase.ABSENT_12_MONTHS: DeletionCase(
        point="khoản 1 điểm d", vietnamese="vắng mặt liên tục tại nơi thường trú từ 12 tháng trở lên",
        waiting_months="absence_months_for_deletion", absence=True),
    PermanentDeletionCase.LOST_NATIONALITY: DeletionCase(
        point="khoản 1 điểm đ", vietnamese="thôi quốc tịch, bị tước quốc tịch Việt Nam"),
    PermanentDeletionCase.HOUSING_ENDED: DeletionCase(
        point="khoản 1 điểm e", vietnamese="đã chấm dứt thuê, mượn, ở nhờ mà chưa đăng ký thường trú nơi mới",
        waiting_months="housing_ended_months_for_deletion"),
    PermanentDeletionCase.RESIDENCE_TRANSFERRED: DeletionCase(
        point="khoản 1 điểm g", vietnamese="chỗ ở đã chuyển quyền sở hữu mà chưa đăng ký thường trú nơi mới",
        waiting_months="housing_ended_months_for_deletion", new_owner_may_consent=True),
}

KIND = DeletionKind(record="permanent", basis=BASIS, cases=CASES,
                    filing_days=lambda rules: rules.permanent_residence.deletion_filing_days,
                    notice_days=lambda rules: rules.permanent_residence.ex_officio_deletion_after_notice_days)


class PermanentResidenceDeletionDetails(DeletionDetails):
    """Xóa đăng ký thường trú (Điều 24)."""

    case: PermanentDeletionCase


class PermanentResidenceDeletionSubmission(DeletionSubmission):
    deletion: ClassVar[DeletionKind] = KIND
    procedure: Literal[Procedure.PERMANENT_RESIDENCE_DELETION] = Procedure.PERMANENT_RESIDENCE_DELETION
    details: PermanentResidenceDeletionDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.DEATH_CERTIFICATE, AttachmentKind.COURT_DECISION, AttachmentKind.OTHER,
    )


SPEC: ProcedureSpec[PermanentResidenceDeletionSubmission] = deletion_spec(
    Procedure.PERMANENT_RESIDENCE_DELETION, vietnamese_name="Xóa đăng ký thường trú", tthc_code="1.003197",
    submission=PermanentResidenceDeletionSubmission, what="thường trú")
