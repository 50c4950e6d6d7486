"""Every refusal carries its reason in Vietnamese (``Refusal.message_vi``), and CT06 prints that reason.

``refusal()`` itself rejects a reason that is not Vietnamese, so every refusal the other rule tests produce is
checked as it is built; the static checks below also reach the call sites those tests do not.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from activities.contracts import DocumentRequest, DossierPaper
from activities.delivery import document_data
from activities.dossier import _recorded_stay
from domain.documents import render
from domain.facts import HouseholdFacts, PersonFacts, ResidenceFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState, Refusal
from domain.procedures.common import (
    AUTHORITY_PLACES_VI,
    CONSENT_GIVERS_VI,
    identity_refusals,
    is_vietnamese,
    missing_consent,
    refusal,
    wrong_authority,
)
from domain.procedures.deletion import KINDS_VI
from tests.factories import address, attachment, refusals_of, unit_id, unit_person, unit_submission

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
RULE_FILES = sorted(DOMAIN.rglob("*.py"))
PERSON = unit_person(unit_id())

# Interpolated values the Vietnamese sentence takes from a translated piece rather than by the same name.
TRANSLATED_PIECES = {"what": "where_vi"}
# Words of the English messages that must never be glued into a Vietnamese sentence.
ENGLISH_WORDS = {"the", "is", "of", "and", "must", "file", "residence", "household", "owner", "consent", "head",
                 "person", "applicant", "permanent", "temporary", "police", "where", "missing", "guest", "term"}


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in RULE_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
                found.append((path, node))
    return found


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _literal_text(path: Path, node: ast.expr) -> str:
    """The text written at the call site: string constants, and module constants a name refers to."""
    module = importlib.import_module(".".join(path.relative_to(DOMAIN.parent).with_suffix("").parts))
    parts = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            parts.append(sub.value)
        elif isinstance(sub, ast.Name) and isinstance(getattr(module, sub.id, None), str):
            parts.append(getattr(module, sub.id))
    return " ".join(parts)


def _names(node: ast.expr) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}


def _english_words(text: str) -> set[str]:
    words = {word.strip(".,;:()").casefold() for word in text.split()}
    return words & ENGLISH_WORDS


REFUSAL_CALLS = _calls("refusal")


def test_the_rules_build_many_refusals_and_all_through_refusal():
    assert len(REFUSAL_CALLS) >= 50
    built_directly = [(path.name, call.lineno) for path, call in _calls("Refusal")
                      if path.name != "common.py"]
    assert built_directly == [], "build refusals with common.refusal(), which requires the Vietnamese reason"


@pytest.mark.parametrize(("path", "call"), REFUSAL_CALLS,
                         ids=[f"{path.stem}:{call.lineno}" for path, call in REFUSAL_CALLS])
def test_every_call_site_gives_a_vietnamese_reason_with_the_same_values(path: Path, call: ast.Call):
    message = _argument(call, 1, "message")
    message_vi = _argument(call, 3, "message_vi")
    assert message is not None and message_vi is not None
    if path.name == "common.py" and isinstance(message_vi, ast.Name) and message_vi.id == "message_vi":
        return  # refusal() itself, passing its arguments on
    text = _literal_text(path, message_vi)
    assert is_vietnamese(text), text
    assert not _english_words(text), (text, _english_words(text))
    # Names, dates, numbers, places: whatever the English sentence interpolates, the Vietnamese one does too.
    vi_names = _names(message_vi)
    for name in _names(message):
        assert {name, f"{name}_vi", TRANSLATED_PIECES.get(name)} & vi_names, (name, ast.unparse(message_vi))


@pytest.mark.parametrize("message_vi", ["", "   ", "Consent of the owner is missing.", "Thieu y kien dong y."])
def test_refusal_rejects_a_reason_that_is_not_vietnamese(message_vi: str):
    with pytest.raises(ValueError, match="message_vi"):
        refusal("owner_consent_missing", "Consent of the owner is missing.", "Luật Cư trú 2020, Điều 20", message_vi)


def test_every_translated_piece_a_rule_passes_is_mapped():
    for path, call in _calls("missing_consent"):
        who = _argument(call, 1, "who")
        if isinstance(who, ast.Constant):
            assert who.value in CONSENT_GIVERS_VI, (path.name, call.lineno, who.value)
    for path, call in _calls("wrong_authority"):
        what = _argument(call, 2, "what")
        if isinstance(what, ast.Constant):
            assert what.value in AUTHORITY_PLACES_VI, (path.name, call.lineno, what.value)
        elif path.name != "common.py":  # the deletion rules: f"the {kind} residence"
            assert path.name == "deletion.py", (path.name, call.lineno)
            assert all(f"the {kind} residence" in AUTHORITY_PLACES_VI for kind in KINDS_VI)


@pytest.mark.parametrize("who", sorted(CONSENT_GIVERS_VI))
def test_missing_consent_names_the_person_in_vietnamese(who: str):
    refused = missing_consent("owner_consent_missing", who)
    assert f"Consent of {who} is missing" in refused.message
    assert f"ý kiến đồng ý của {CONSENT_GIVERS_VI[who]}" in refused.message_vi
    assert who not in refused.message_vi and "CT01" in refused.message_vi and "VNeID" in refused.message_vi


@pytest.mark.parametrize("what", sorted(AUTHORITY_PLACES_VI))
def test_wrong_authority_names_the_unit_and_the_place_in_vietnamese(what: str):
    submission = unit_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION, PERSON,
                                 {"basis": "own_residence", "residence": address()}, police_unit="CA-00073")
    [refused] = wrong_authority(submission, "00070", what)
    assert refused.message.startswith("This dossier is decided by the police of Phường Hoàn Kiếm (CA-00070)")
    assert refused.message_vi == ("Hồ sơ thuộc thẩm quyền giải quyết của Công an Phường Hoàn Kiếm (CA-00070), nơi "
                                  f"{AUTHORITY_PLACES_VI[what]}; đề nghị nộp hồ sơ tại Công an Phường Hoàn Kiếm.")


def _person(**changes: Any) -> PersonFacts:
    return PersonFacts.model_validate({"personal_id": PERSON.personal_id, "full_name": PERSON.full_name,
                                       "birth_date": PERSON.birth_date, "sex": PERSON.sex, "status": "alive",
                                       "full_civil_capacity": True} | changes)


def test_identity_mismatch_names_the_fields_in_vietnamese():
    submission = unit_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION, PERSON,
                                 {"basis": "own_residence", "residence": address()})
    [refused] = identity_refusals(submission.applicant, _person(full_name="Nguyễn Thị Ánh", sex="male"))
    assert refused.message_vi.startswith("Thông tin họ và tên, giới tính đã kê khai không trùng khớp")
    assert [r.message_vi for r in identity_refusals(submission.applicant, None)] == [
        "Số định danh cá nhân không có trong Cơ sở dữ liệu quốc gia về dân cư; đề nghị kiểm tra lại số định danh "
        "cá nhân."]


def test_floor_area_is_written_with_a_decimal_comma():
    submission = unit_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION, PERSON,
                                 {"basis": "rented_or_borrowed", "residence": address()},
                                 attachments=[attachment("certified_rental_contract")])
    facts = HouseholdFacts(applicant=_person(), residence=ResidenceFacts(
        residence_id=10, owner_id=None, floor_area_m2=Decimal(30), barred_reason=None, household_id=None,
        household_head_id=None, member_count=3))
    [refused] = refusals_of(submission, facts)
    assert refused.code == "floor_area_too_small"
    assert "7.5 m²" in refused.message
    assert "diện tích nhà ở bình quân là 7,5 m² sàn/người, thấp hơn diện tích nhà ở tối thiểu 8 m² sàn/người" \
        in refused.message_vi


def test_a_refusal_recorded_without_a_vietnamese_reason_still_decodes():
    # Workflow histories recorded before message_vi existed hold Refusal JSON without it.
    old = Refusal.model_validate_json('{"code": "barred_place", "message": "x", "legal_basis": "Điều 23"}')
    assert old.message_vi == ""


def _ct06_request(*refusals: Refusal) -> DocumentRequest:
    submission = unit_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION, PERSON,
                                 {"basis": "own_residence", "residence": address()})
    return DocumentRequest(dossier_code=submission.dossier_code, procedure=submission.procedure,
                           kinds=(DocumentKind.CT06,), paper=DossierPaper.of(submission), refusals=refusals)


def test_ct06_prints_the_vietnamese_reason_and_the_english_only_when_there_is_none():
    reason_vi = "Chỗ ở đề nghị đăng ký thuộc địa điểm không được đăng ký cư trú mới: đất lấn chiếm."
    barred = refusal("barred_place", "Registration is barred at this place: đất lấn chiếm.",
                     "Luật Cư trú 2020, Điều 23", reason_vi)
    recorded_before = Refusal(code="contract_not_certified", message="A contract is needed.")  # an old history
    data = document_data(_ct06_request(barred, recorded_before), DocumentKind.CT06,
                         datetime(2026, 11, 2, 9, tzinfo=UTC))
    assert data.refusal_reason == f"{reason_vi}; A contract is needed."
    reader = PdfReader(io.BytesIO(render(data)))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Lý do từ chối: Chỗ ở đề nghị đăng ký thuộc địa điểm không được đăng ký cư trú mới" in \
        unicodedata.normalize("NFC", text)
    assert "Registration is barred" not in text


def test_a_refused_rule_prints_its_vietnamese_reason_on_ct06():
    submission = unit_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION, PERSON,
                                 {"basis": "own_residence", "residence": address()})
    facts = HouseholdFacts(applicant=_person(), residence=ResidenceFacts(
        residence_id=10, owner_id=unit_id(date(1960, 1, 1)), floor_area_m2=Decimal(60), barred_reason="đất lấn chiếm",
        household_id=None, household_head_id=None, member_count=0))
    refused = tuple(refusals_of(submission, facts))
    assert [r.code for r in refused] == ["barred_place", "not_owner"]
    data = document_data(_ct06_request(*refused), DocumentKind.CT06, datetime(2026, 11, 2, 9, tzinfo=UTC))
    assert data.refusal_reason == "; ".join(r.message_vi for r in refused)
    assert is_vietnamese(data.refusal_reason) and not _english_words(data.refusal_reason)


# A register's row: the stay notification procedure, bound to the registers (or to no one, written before).
STAY_ROW = {"procedure": Procedure.STAY_NOTIFICATION.value, "run_id": None}


def test_a_recorded_stay_keeps_its_vietnamese_reasons_and_older_rows_still_read():
    details = {"channel": "online", "refusals": ["stay_too_long"], "reasons": ["A stay lasts at most 30 days."]}
    old = _recorded_stay({"dossier_code": "HS-1", "status": "refused", "details": json.dumps(details), **STAY_ROW})
    assert old.state == DossierState.REFUSED
    assert [(r.code, r.message, r.message_vi) for r in old.refusals] == [
        ("stay_too_long", "A stay lasts at most 30 days.", "")]
    details["reasons_vi"] = ["Thời gian lưu trú tối đa là 30 ngày."]
    new = _recorded_stay({"dossier_code": "HS-1", "status": "refused", "details": json.dumps(details), **STAY_ROW})
    assert [r.message_vi for r in new.refusals] == ["Thời gian lưu trú tối đa là 30 ngày."]
