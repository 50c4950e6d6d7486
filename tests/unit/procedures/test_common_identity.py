"""The identity check every procedure makes first: the applicant exists, is alive and matches CSDLQG."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

from domain.facts import PersonFacts
from domain.identity import generate_personal_id
from domain.procedures.catalogue import parse_submission
from domain.procedures.common import identity_refusals
from domain.procedures.permanent_residence_registration import PermanentResidenceRegistrationSubmission

RNG = random.Random(5)
APPLICANT = generate_personal_id(RNG, "01", date(1990, 5, 17), "female")
MINOR = generate_personal_id(RNG, "01", date(2015, 3, 2), "male")


def submission(basis: str = "own_residence", applicant: str = APPLICANT, consents: list[dict[str, str]] | None = None,
               **details: Any) -> PermanentResidenceRegistrationSubmission:
    birth = date(2015, 3, 2) if applicant == MINOR else date(1990, 5, 17)
    sex = "male" if applicant == MINOR else "female"
    parsed = parse_submission({
        "procedure": "PermanentResidenceRegistration",
        "dossier_code": "HS-UNIT-000001",
        "received_at": datetime(2026, 11, 2, 9, tzinfo=UTC).isoformat(),
        "applicant": {"personal_id": applicant, "full_name": "Nguyễn Thị Ánh Tuyết", "birth_date": birth.isoformat(),
                      "sex": sex},
        "police_unit": "CA-00070",
        "declaration_truthful": True,
        "consents": consents or [],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "details": {"basis": basis, "residence": {"province_code": "01", "commune_code": "00070",
                                                  "address_line": "Số 1 phố Hàng Bài"}, **details},
    })
    assert isinstance(parsed, PermanentResidenceRegistrationSubmission)
    return parsed


def person(pid: str = APPLICANT, **changes: Any) -> PersonFacts:
    minor = pid == MINOR
    values = {"personal_id": pid, "full_name": "Nguyễn Thị Ánh Tuyết",
              "birth_date": date(2015, 3, 2) if minor else date(1990, 5, 17), "sex": "male" if minor else "female",
              "status": "alive", "full_civil_capacity": True} | changes
    return PersonFacts.model_validate(values)


def test_identity_unknown_deceased_and_mismatch():
    sub = submission()
    assert [r.code for r in identity_refusals(sub.applicant, None)] == ["identity_unknown"]
    assert [r.code for r in identity_refusals(sub.applicant, person(status="dead"))] == ["identity_deceased"]
    mismatch = identity_refusals(sub.applicant, person(full_name="Nguyễn Thị Ánh", birth_date=date(1990, 5, 18)))
    assert [r.code for r in mismatch] == ["identity_mismatch"]
    assert "full name, birth date" in mismatch[0].message
    assert identity_refusals(sub.applicant, person()) == []
