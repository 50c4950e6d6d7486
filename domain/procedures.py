"""The eleven level-4 residence procedures and the steps each one takes.

Deadlines, fees and validity periods are versioned rule data (``domain.rulesets``); this table says only what a
procedure *is*: its legal name, its TTHC code, which lifecycle steps it has and which documents it produces.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


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


class ProcedureSpec(BaseModel, frozen=True):
    procedure: Procedure
    vietnamese_name: str
    tthc_code: str
    legal_basis: str
    officer_review: bool
    has_fee: bool
    immediate: bool = False  # accepted at once in one activity: no officer, no fee (stay notification)
    results: tuple[DocumentKind, ...]


PROCEDURES: dict[Procedure, ProcedureSpec] = {
    spec.procedure: spec
    for spec in (
        ProcedureSpec(
            procedure=Procedure.PERMANENT_RESIDENCE_REGISTRATION,
            vietnamese_name="Đăng ký thường trú",
            tthc_code="1.004222",
            legal_basis="Luật Cư trú 2020, Điều 20–23",
            officer_review=True,
            has_fee=True,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.PERMANENT_RESIDENCE_DELETION,
            vietnamese_name="Xóa đăng ký thường trú",
            tthc_code="1.003197",
            legal_basis="Luật Cư trú 2020, Điều 24",
            officer_review=True,
            has_fee=False,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.TEMPORARY_RESIDENCE_REGISTRATION,
            vietnamese_name="Đăng ký tạm trú",
            tthc_code="1.004194",
            legal_basis="Luật Cư trú 2020, Điều 27–28",
            officer_review=True,
            has_fee=True,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.TEMPORARY_RESIDENCE_EXTENSION,
            vietnamese_name="Gia hạn tạm trú",
            tthc_code="1.002755",
            legal_basis="Luật Cư trú 2020, Điều 28 khoản 3",
            officer_review=True,
            has_fee=True,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.TEMPORARY_RESIDENCE_DELETION,
            vietnamese_name="Xóa đăng ký tạm trú",
            tthc_code="1.010028",
            legal_basis="Luật Cư trú 2020, Điều 29",
            officer_review=True,
            has_fee=False,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.HOUSEHOLD_SEPARATION,
            vietnamese_name="Tách hộ",
            tthc_code="1.010038",
            legal_basis="Luật Cư trú 2020, Điều 25",
            officer_review=True,
            has_fee=True,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.RESIDENCE_INFO_ADJUSTMENT,
            vietnamese_name="Điều chỉnh thông tin về cư trú",
            tthc_code="1.010039",
            legal_basis="Luật Cư trú 2020, Điều 26",
            officer_review=True,
            has_fee=False,
            results=(DocumentKind.CT08,),
        ),
        ProcedureSpec(
            procedure=Procedure.RESIDENCE_DECLARATION,
            vietnamese_name="Khai báo thông tin về cư trú",
            tthc_code="1.010040",
            legal_basis="Luật Cư trú 2020, Điều 19",
            officer_review=True,
            has_fee=False,
            results=(DocumentKind.CT08, DocumentKind.CT07),
        ),
        ProcedureSpec(
            procedure=Procedure.RESIDENCE_CONFIRMATION,
            vietnamese_name="Xác nhận thông tin về cư trú",
            tthc_code="1.010041",
            legal_basis="Luật Cư trú 2020, Điều 17",
            officer_review=True,
            has_fee=False,
            results=(DocumentKind.CT07,),
        ),
        ProcedureSpec(
            procedure=Procedure.STAY_NOTIFICATION,
            vietnamese_name="Thông báo lưu trú",
            tthc_code="2.001159",
            legal_basis="Luật Cư trú 2020, Điều 30 (sửa đổi bởi Luật 118/2025/QH15)",
            officer_review=False,
            has_fee=False,
            immediate=True,
            results=(),
        ),
        ProcedureSpec(
            procedure=Procedure.TEMPORARY_ABSENCE_DECLARATION,
            vietnamese_name="Khai báo tạm vắng",
            tthc_code="1.003677",
            legal_basis="Luật Cư trú 2020, Điều 31 (sửa đổi bởi Luật 118/2025/QH15)",
            officer_review=True,
            has_fee=False,
            results=(DocumentKind.CT03, DocumentKind.CT08),
        ),
    )
}
