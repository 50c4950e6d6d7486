"""Bad input is refused with a field-level error that says what to fix."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cutru.clients.client import SubmissionRejected, check_submission
from domain.models import OfficerDecision, Supplement
from domain.procedures.catalogue import field_errors, parse_submission
from tests.unit.procedures.test_permanent_residence_registration import APPLICANT

VALID: dict[str, Any] = {
    "procedure": "PermanentResidenceRegistration",
    "dossier_code": "HS-UNIT-000002",
    "received_at": "2026-11-02T09:00:00+07:00",
    "applicant": {"personal_id": APPLICANT, "full_name": "Nguyễn Thị Ánh Tuyết", "birth_date": "1990-05-17",
                  "sex": "female"},
    "police_unit": "CA-00070",
    "declaration_truthful": True,
    "delivery": {"method": "postal", "destination": "Số 1 phố Hàng Bài, Hoàn Kiếm, Hà Nội"},
    "details": {"basis": "own_residence",
                "residence": {"province_code": "01", "commune_code": "00070", "address_line": "Số 1 phố Hàng Bài"}},
}


def errors_for(change: dict[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    raw = copy.deepcopy(VALID)
    target = raw
    for key in path:
        target = target[key]
    target.update(change)
    with pytest.raises(ValidationError) as error:
        parse_submission(raw)
    return field_errors(error.value)


def test_valid_submission_parses():
    assert parse_submission(VALID).dossier_code == "HS-UNIT-000002"


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        (("applicant",), {"sex": "male"}, "applicant: Value error, personal_id: digit 4"),
        (("applicant",), {"birth_date": "1991-05-17"}, "applicant: Value error, personal_id: digits 5–6"),
        (("applicant",), {"personal_id": "12345"}, "applicant.personal_id: String should match pattern"),
        (("details", "residence"), {"commune_code": "99999"}, "commune_code 99999 is not a commune"),
        (("details", "residence"), {"province_code": "79"}, "belongs to province 01, not 79"),
        ((), {"police_unit": "CA-99999"}, "police_unit CA-99999 is not the police of a known commune"),
        ((), {"declaration_truthful": False}, "declaration_truthful: Input should be True"),
        ((), {"received_at": "2026-11-02T09:00:00"}, "received_at: Value error, must include a time zone"),
        (("details",), {"basis": "join_relative"}, "relation_to_head is required"),
        ((), {"unexpected": 1}, "unexpected: Extra inputs are not permitted"),
        ((), {"procedure": "NoSuchProcedure"}, "procedure"),
    ],
)
def test_field_level_errors(path: tuple[str, ...], change: dict[str, Any], expected: str):
    assert any(expected in line for line in errors_for(change, path)), errors_for(change, path)


def test_birth_after_receipt_is_refused():
    raw = copy.deepcopy(VALID) | {"received_at": "1980-01-01T09:00:00+07:00"}
    with pytest.raises(ValidationError, match="birth_date is after the dossier was received"):
        parse_submission(raw)


def test_received_in_the_future_is_refused_before_starting():
    raw = copy.deepcopy(VALID) | {"received_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    with pytest.raises(SubmissionRejected, match="received_at: .* is in the future"):
        check_submission(raw)
    assert check_submission(VALID, now=datetime(2026, 11, 2, 3, tzinfo=UTC)).applicant.birth_date == date(1990, 5, 17)


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ({"officer_id": "CB-00070-01", "decision": "reject"}, "a rejection needs a reason"),
        ({"officer_id": "CB-00070-01", "decision": "reject", "reason": "  "}, "a rejection needs a reason"),
        ({"officer_id": "CB-00070-01", "decision": "request_supplement"}, "lists the missing items"),
        ({"officer_id": "officer-1", "decision": "approve"}, "officer_id"),
    ],
)
def test_officer_decision_model_refusals(decision: dict[str, Any], message: str):
    with pytest.raises(ValidationError, match=message):
        OfficerDecision.model_validate(decision)


def test_results_by_sms_go_to_a_mobile_number_and_may_be_collected_at_the_office():
    from pydantic import ValidationError

    from domain.models import Delivery

    assert Delivery(method="sms", destination="0912345678").method == "sms"
    assert Delivery(method="sms", destination="+84912345678").destination == "+84912345678"
    assert Delivery(method="at_office", destination="Bộ phận một cửa, Công an phường Hoàn Kiếm").method == "at_office"
    with pytest.raises(ValidationError, match="Vietnamese mobile number"):
        Delivery(method="sms", destination="nguyen@example.vn")


@pytest.mark.parametrize("items", [("Giấy tờ nhà", "Hợp đồng\x00"), ["Sổ\x07 hộ khẩu"]])
def test_a_control_character_in_a_list_of_texts_is_refused(items: Any) -> None:
    with pytest.raises(ValidationError, match="control character"):
        Supplement(provided_items=items)
    assert Supplement(provided_items=("Giấy tờ nhà", "Hợp đồng\tthuê")).provided_items[1] == "Hợp đồng\tthuê"
