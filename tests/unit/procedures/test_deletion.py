"""Deletion rules (Luật Cư trú Điều 24, 29), each refusal reason on its own, and the filing-window notes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.kinds import Procedure
from domain.procedures.deletion import PoliceNotice, filed_late, notice_window_closes
from domain.procedures.permanent_residence_deletion import CASES as PERMANENT_CASES
from domain.procedures.permanent_residence_deletion import KIND as PERMANENT
from domain.procedures.permanent_residence_deletion import PermanentDeletionCase
from domain.procedures.temporary_residence_deletion import CASES as TEMPORARY_CASES
from domain.procedures.temporary_residence_deletion import TemporaryDeletionCase
from domain.rulesets import DeadlineCase
from tests.factories import (
    OTHER_COMMUNE,
    deadline_case_of,
    facts_of,
    household_facts,
    member_facts,
    notes_of,
    person_facts,
    record_facts,
    unit_id,
    unit_person,
    unit_submission,
)
from tests.factories import (
    refusal_codes as codes,
)

SPOUSE = unit_person(unit_id(date(1962, 4, 1), "female"), date(1962, 4, 1), "female", "Phạm Thị Lan")
DECEASED = unit_person(unit_id(date(1958, 9, 9), "male"), date(1958, 9, 9), "male", "Phạm Văn Hùng")
STRANGER = unit_person(unit_id(date(1980, 1, 1), "male"), date(1980, 1, 1), "male", "Lê Văn Tám")
LANDLORD = unit_person(unit_id(date(1970, 3, 3), "female"), date(1970, 3, 3), "female", "Đỗ Thị Hoa")
TENANT = unit_person(unit_id(date(1995, 6, 6), "male"), date(1995, 6, 6), "male", "Hoàng Văn Nam")


def permanent(case: str = "death", event: date = date(2026, 10, 30), applicant: Any = SPOUSE,
              subject: Any = DECEASED, **details: Any) -> Any:
    return unit_submission(Procedure.PERMANENT_RESIDENCE_DELETION, applicant, {
        "case": case, "event_date": event.isoformat(),
        "subject_id": subject.personal_id if subject else None, **details})


def permanent_facts(*, subject_status: str = "dead", commune: str = "00070", record: bool = True,
                    subject_known: bool = True, self_filed: bool = False, **records: Any) -> Any:
    """The deceased's records; filed by the spouse, or (``self_filed``) by the person concerned."""
    household = household_facts(SPOUSE, member_facts(DECEASED, "spouse", status=subject_status))
    subject = person_facts(DECEASED, status=subject_status) if subject_known else None
    if self_filed:
        return facts_of(DECEASED, records={"personal_id": DECEASED.personal_id, "household": household,
                                           "permanent": record_facts(commune_code=commune), **records})
    return facts_of(SPOUSE, subject=subject,
                    records={"personal_id": DECEASED.personal_id, "household": household,
                             "permanent": record_facts(commune_code=commune) if record else None, **records})


def test_spouse_files_the_death_of_a_household_member():
    assert codes(permanent(), permanent_facts()) == []
    assert deadline_case_of(permanent(), permanent_facts()) is DeadlineCase.STANDARD


def test_subject_unknown_and_nothing_to_delete():
    assert codes(permanent(), permanent_facts(subject_known=False)) == ["subject_unknown"]
    assert codes(permanent(), permanent_facts(record=False)) == ["no_permanent_residence"]


def test_the_police_of_the_residence_decide():
    assert codes(permanent(), permanent_facts(commune=OTHER_COMMUNE)) == ["wrong_police_unit"]


def test_only_the_person_the_household_or_the_owner_files():
    outsider = permanent(applicant=STRANGER)
    assert codes(outsider, permanent_facts()) == ["not_entitled_to_file"]
    owner_facts = permanent_facts(permanent=record_facts(owner_id=STRANGER.personal_id))
    assert codes(outsider, owner_facts) == []


def test_a_death_must_be_recorded_in_the_population_database():
    assert codes(permanent(), permanent_facts(subject_status="alive")) == ["death_not_recorded"]
    assert codes(permanent("declared_missing_or_dead"), permanent_facts(subject_status="alive")) == []


@pytest.mark.parametrize(("case", "event", "refused"), [
    ("absent_12_months", date(2025, 11, 2), True),  # the 12 months end on 2 November 2026, the day of filing
    ("absent_12_months", date(2025, 11, 1), False),
    ("housing_ended", date(2026, 3, 1), True),
    ("residence_transferred", date(2025, 6, 30), False),
    ("settled_abroad", date(2026, 10, 30), False),
])
def test_cases_that_need_months_to_run(case: str, event: date, refused: bool):
    result = codes(permanent(case, event, applicant=DECEASED, subject=None), permanent_facts(self_filed=True))
    assert result == (["waiting_period_not_over"] if refused else [])


def test_an_absence_covered_by_temporary_residence_or_a_declaration_is_no_case():
    absent = permanent("absent_12_months", date(2025, 6, 1), applicant=DECEASED, subject=None)
    elsewhere = permanent_facts(self_filed=True, temporary=record_facts(2, commune_code=OTHER_COMMUNE,
                                                                        valid_to=date(2027, 1, 1)))
    assert codes(absent, elsewhere) == ["absence_covered"]
    declared = permanent_facts(self_filed=True, absence_declared_until=date(2026, 12, 31))
    assert codes(absent, declared) == ["absence_covered"]
    old_declaration = permanent_facts(self_filed=True, absence_declared_until=date(2025, 5, 1))
    assert codes(absent, old_declaration) == []


@pytest.mark.parametrize(("event", "late"), [
    (date(2026, 10, 26), False),  # 7 days counted from the day after: the last day is 2 November, the filing day
    (date(2026, 10, 25), True),
])
def test_a_late_filing_is_noted_not_refused(event: date, late: bool):
    submission = permanent(event=event)
    facts = permanent_facts()
    assert codes(submission, facts) == []
    assert filed_late(submission) is late
    notes = notes_of(submission, facts)
    assert any("after the 7-day window" in note for note in notes) is late


def test_a_late_filing_counts_from_the_end_of_the_waiting_months():
    # Absent since 1 October 2025: the case exists from 2 October 2026; filed on 2 November 2026 — late.
    submission = permanent("absent_12_months", date(2025, 10, 1), applicant=DECEASED, subject=None)
    assert filed_late(submission)
    assert not filed_late(permanent("absent_12_months", date(2025, 10, 27), applicant=DECEASED, subject=None))


def test_ex_officio_only_after_the_notice_window():
    notice = {"notice_number": "12/TB-CAP", "officer_id": "CB-00070-01"}
    early = permanent(event=date(2026, 10, 1), police_notice=notice | {"notified_on": "2026-10-30"})
    assert codes(early, permanent_facts()) == ["notice_window_open"]
    closed = permanent(event=date(2026, 10, 1), police_notice=notice | {"notified_on": "2026-10-20"})
    assert codes(closed, permanent_facts()) == []
    assert not filed_late(closed)  # the police's own case
    assert any("Ex officio deletion" in note for note in notes_of(closed, permanent_facts()))


def test_the_notice_window_closes_at_the_start_of_the_eighth_day():
    notice = PoliceNotice(notice_number="1", notified_on=date(2026, 10, 20), officer_id="CB-00070-01")
    closes = notice_window_closes(notice, PERMANENT)
    assert closes.isoformat() == "2026-10-28T00:00:00+07:00"


def test_every_case_has_its_legal_point():
    assert set(PERMANENT_CASES) == set(PermanentDeletionCase)
    assert set(TEMPORARY_CASES) == set(TemporaryDeletionCase)
    assert all(case.point for case in (*PERMANENT_CASES.values(), *TEMPORARY_CASES.values()))


# ---- temporary residence deletion ---------------------------------------------------------------------------


def temporary(case: str = "housing_ended", applicant: Any = LANDLORD, event: date = date(2026, 10, 31)) -> Any:
    return unit_submission(Procedure.TEMPORARY_RESIDENCE_DELETION, applicant, {
        "case": case, "event_date": event.isoformat(), "subject_id": TENANT.personal_id})


def temporary_facts(*, temporary_record: bool = True, status: str = "alive", **records: Any) -> Any:
    tenancy = record_facts(7, residence_id=20, valid_to=date(2027, 5, 1), owner_id=LANDLORD.personal_id)
    return facts_of(LANDLORD, subject=person_facts(TENANT, status=status),
                    records={"personal_id": TENANT.personal_id, "temporary": tenancy if temporary_record else None,
                             **records})


def test_the_landlord_reports_an_ended_tenancy():
    submission = temporary()
    assert codes(submission, temporary_facts()) == []
    assert any("not confirmed" in note for note in notes_of(submission, temporary_facts()))


def test_temporary_deletion_refusals():
    assert codes(temporary(), temporary_facts(temporary_record=False)) == ["no_temporary_residence"]
    assert codes(temporary("death"), temporary_facts()) == ["death_not_recorded"]
    assert codes(temporary("death"), temporary_facts(status="dead")) == []
    assert codes(temporary(applicant=STRANGER), temporary_facts()) == ["not_entitled_to_file"]
    here = temporary("registered_permanent_here")
    assert codes(here, temporary_facts(permanent=record_facts(9, residence_id=99))) == ["case_not_established"]
    assert codes(here, temporary_facts(permanent=record_facts(9, residence_id=20))) == []


def test_temporary_filing_window_uses_its_own_rule_value():
    assert filed_late(temporary(event=date(2026, 10, 20)))
    assert not filed_late(temporary(event=date(2026, 10, 27)))


# ---- issue 24: absence exceptions, the new owner's consent, the annulment --------------------------------------


@pytest.mark.parametrize("reason", ["abroad_not_to_settle", "serving_sentence", "compulsory_measure"])
def test_an_absence_the_law_excepts_is_no_ground_for_deletion(reason: str):
    absent = permanent("absent_12_months", event=date(2025, 9, 1), applicant=SPOUSE, subject=DECEASED)
    alive = permanent_facts(subject_status="alive")
    assert "absence_excepted" not in codes(absent, alive)
    excepted = permanent("absent_12_months", event=date(2025, 9, 1), absence_reason=reason)
    assert "absence_excepted" in codes(excepted, alive)


def test_the_new_owner_consenting_removes_the_transferred_residence_case():
    from tests.factories import consent

    def filed(case: str, *consents: Any) -> Any:
        return unit_submission(Procedure.PERMANENT_RESIDENCE_DELETION, SPOUSE, {
            "case": case, "event_date": "2025-09-01", "subject_id": DECEASED.personal_id}, consents=list(consents))

    owned = permanent_facts(subject_status="alive", permanent=record_facts(owner_id=STRANGER.personal_id))
    assert "new_owner_consents" not in codes(filed("residence_transferred"), owned)
    assert "new_owner_consents" in codes(filed("residence_transferred", consent("owner", STRANGER)), owned)
    # Only the transfer case knows a new owner's consent.
    assert "new_owner_consents" not in codes(filed("death", consent("owner", STRANGER)), owned)


def test_an_improper_temporary_registration_is_annulled_within_one_working_day():
    from domain.rulesets import rules_for
    from tests.factories import UNIT_RECEIVED

    annulled = unit_submission(Procedure.TEMPORARY_RESIDENCE_DELETION, LANDLORD, {
        "case": "improper_registration", "event_date": "2026-10-30", "subject_id": TENANT.personal_id})
    facts = facts_of(LANDLORD, subject=person_facts(TENANT), records={
        "personal_id": TENANT.personal_id, "temporary": record_facts(owner_id=LANDLORD.personal_id)})
    assert deadline_case_of(annulled, facts) is DeadlineCase.ANNULMENT
    allowed = rules_for(UNIT_RECEIVED).procedures[Procedure.TEMPORARY_RESIDENCE_DELETION].deadline(
        DeadlineCase.ANNULMENT)
    assert allowed.days == 1
    assert TEMPORARY_CASES[TemporaryDeletionCase.IMPROPER_REGISTRATION].annulment
