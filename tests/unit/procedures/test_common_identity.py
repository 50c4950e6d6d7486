"""The identity check every procedure makes first: the applicant exists, is alive and matches CSDLQG."""

from __future__ import annotations

from datetime import date

from domain.procedures.common import identity_refusals
from tests.unit.procedures.test_permanent_residence_registration import person, submission


def test_identity_unknown_deceased_and_mismatch():
    sub = submission()
    assert [r.code for r in identity_refusals(sub.applicant, None)] == ["identity_unknown"]
    assert [r.code for r in identity_refusals(sub.applicant, person(status="dead"))] == ["identity_deceased"]
    mismatch = identity_refusals(sub.applicant, person(full_name="Nguyễn Thị Ánh", birth_date=date(1990, 5, 18)))
    assert [r.code for r in mismatch] == ["identity_mismatch"]
    assert "full name, birth date" in mismatch[0].message
    assert identity_refusals(sub.applicant, person()) == []
