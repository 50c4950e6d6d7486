"""The two vocabularies every layer names: the procedures (one Temporal workflow type each) and the legal forms.

It imports nothing of the project, so that the rule sets, the boundary models and the procedure modules can all
import it without a circle.
"""

from __future__ import annotations

from enum import StrEnum


class Procedure(StrEnum):
    """Workflow type names; one Temporal workflow type per procedure."""

    PERMANENT_RESIDENCE_REGISTRATION = "PermanentResidenceRegistration"
    PERMANENT_RESIDENCE_DELETION = "PermanentResidenceDeletion"
    TEMPORARY_RESIDENCE_REGISTRATION = "TemporaryResidenceRegistration"
    TEMPORARY_RESIDENCE_EXTENSION = "TemporaryResidenceExtension"
    TEMPORARY_RESIDENCE_DELETION = "TemporaryResidenceDeletion"
    HOUSEHOLD_SEPARATION = "HouseholdSeparation"
    RESIDENCE_INFO_ADJUSTMENT = "ResidenceInfoAdjustment"
    RESIDENCE_DECLARATION = "ResidenceDeclaration"
    RESIDENCE_CONFIRMATION = "ResidenceConfirmation"
    STAY_NOTIFICATION = "StayNotification"
    TEMPORARY_ABSENCE_DECLARATION = "TemporaryAbsenceDeclaration"


class DocumentKind(StrEnum):
    """Legal forms (biểu mẫu) of the residence procedures."""

    CT03 = "CT03"  # Phiếu khai báo tạm vắng — temporary-absence slip
    CT04 = "CT04"  # Phiếu tiếp nhận hồ sơ và hẹn trả kết quả — receipt with appointment date
    CT05 = "CT05"  # Phiếu hướng dẫn bổ sung, hoàn thiện hồ sơ — supplement request
    CT06 = "CT06"  # Phiếu từ chối tiếp nhận, giải quyết hồ sơ — refusal with reason
    CT07 = "CT07"  # Xác nhận thông tin về cư trú — residence confirmation
    CT08 = "CT08"  # Thông báo kết quả giải quyết, hủy bỏ đăng ký cư trú — result notice
