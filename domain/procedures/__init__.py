"""The eleven level-4 residence procedures, each in a module of its own.

Each procedure module (``permanent_residence_registration``, ``stay_notification``, …) holds that procedure's
whole pure definition: its Vietnamese name and TTHC code, legal basis, lifecycle steps, submission model,
eligibility rules, deadline case, notes for the officer, the facts it needs, its result documents and their texts,
and the record changes its commit makes (a ``RecordPlan``). ``catalogue`` collects them; everything above
``domain`` reads a procedure through ``catalogue.PROCEDURES``, never through a table of its own.

Shared pieces live beside them: ``spec`` (the definition type), ``plan`` (the record changes a commit can make),
``common`` (rules and detail models every procedure uses) and ``deletion`` (what the two deletions share).
Deadlines, fees, validity periods and thresholds are versioned rule data (``domain.rulesets``).

This module holds only the two vocabularies every layer names: it imports nothing, so that the rule sets and the
boundary models can import it without importing the procedures.
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
