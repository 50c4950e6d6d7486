"""What operators and provinces set, set the way docs/rules.md tells them to (the ``cutru`` command with
DATABASE_URL, run in this process), and shown to change a dossier with no code change: a declared day off moves the
appointment date, and a province's floor-area minimum refuses a registration received after it took effect.

The session's database is shared: the declarations are in 2031, which no other test receives in, and are taken back
at the end.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.contracts import EligibilityCheck
from activities.dossier import DossierActivities
from domain.calendar import VN_TZ
from domain.kinds import DocumentKind
from domain.models import DecisionKind, DossierState
from domain.procedures.catalogue import parse_submission
from tests.cli import cutru_here
from tests.factories import (
    DEMO_PROVINCE,
    Desk,
    attachment,
    consent,
    new_person,
    new_place,
    procedure_desk,
    registration,
)
from tests.integration.test_procedures import pdf_text

DAY_OFF = "2031-03-04"
DECISION = "Thông báo 99/TB-BNV ngày 20/02/2031"
RESOLUTION = "Nghị quyết 12/2030/NQ-HĐND thành phố Hà Nội"


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url}


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


async def test_a_declared_day_off_moves_the_appointment_and_is_printed(desk: Desk, pool: asyncpg.Pool,
                                                                       env: dict[str, str]):
    """Received Monday 3 March 2031: 7 working days end Wednesday 12 March; with Tuesday 4 March declared off they
    end Thursday 13 March, and CT04 and the status say why."""
    declared = await cutru_here(env, "calendar", "day-off", DAY_OFF, "--decision", DECISION)
    assert declared.returncode == 0, declared.stderr
    assert f"{DAY_OFF}  day_off      {DECISION}" in declared.stdout
    try:
        async with pool.acquire() as conn:
            person = await new_person(conn)
            place = await new_place(conn, owner_id=person.personal_id)
        raw = registration(person, place)
        raw["received_at"] = datetime(2031, 3, 3, 9, tzinfo=VN_TZ).isoformat()
        await desk.start(raw)
        status = await desk.wait_state(raw["dossier_code"], DossierState.AWAITING_DECISION)
        assert status.deadline == datetime(2031, 3, 13, 17, tzinfo=VN_TZ)
        receipt = await pdf_text(pool, raw["dossier_code"], DocumentKind.CT04)
        assert "Hẹn trả kết quả: ngày 13/03/2031" in receipt
        assert f"04/03/2031 (ngày nghỉ theo {DECISION})" in " ".join(receipt.split())
        proof = await pool.fetchval("SELECT deadline_proof->'days_skipped'->0->>'day' FROM dossiers"
                                    " WHERE dossier_code = $1", raw["dossier_code"])
        assert proof == DAY_OFF
        await desk.decide(raw["dossier_code"], DecisionKind.REJECT, reason="Kiểm thử lịch nghỉ")
        await desk.result(raw["dossier_code"])
    finally:
        withdrawn = await cutru_here(env, "calendar", "withdraw", DAY_OFF, "--decision", "test over")
        assert withdrawn.returncode == 0 and DAY_OFF not in withdrawn.stdout, withdrawn.stderr


async def test_a_provinces_floor_area_minimum_applies_from_its_effective_date(
        pool: asyncpg.Pool, activities: DossierActivities, env: dict[str, str]):
    """25 m² for a tenant joining one occupant: 12.5 m² each passes the law's 8 m², fails Hà Nội's 15 m² from
    1 January 2031 (a province below the law's 8 m² is refused)."""
    too_low = await cutru_here(env, "rules", "province", DEMO_PROVINCE, "--min-floor-area", "7.5",
                               "--effective", "2031-01-01", "--decision", RESOLUTION)
    assert too_low.returncode == 2 and "never" not in too_low.stdout and "below the law" in too_low.stderr
    declared = await cutru_here(env, "rules", "province", DEMO_PROVINCE, "--min-floor-area", "15",
                                "--effective", "2031-01-01", "--decision", RESOLUTION)
    assert declared.returncode == 0, declared.stderr
    try:
        async with pool.acquire() as conn:
            tenant = await new_person(conn)
            owner = await new_person(conn, full_name="Đỗ Thị Hoa")
            place = await new_place(conn, owner_id=owner.personal_id, floor_area_m2=25, head_id=owner.personal_id)
        verdicts = {}
        for received in (datetime(2030, 12, 31, 9, tzinfo=VN_TZ), datetime(2031, 1, 2, 9, tzinfo=VN_TZ)):
            raw = registration(tenant, place, basis="rented_or_borrowed", consents=[consent("owner", owner)])
            raw["attachments"] = [attachment("certified_rental_contract")]
            raw["received_at"] = received.isoformat()
            result = await ActivityEnvironment().run(activities.check_eligibility,
                                                     EligibilityCheck(submission=parse_submission(raw)))
            verdicts[received.year] = [r.code for r in result.refusals]
        assert verdicts == {2030: [], 2031: ["floor_area_too_small"]}
    finally:
        await pool.execute("DELETE FROM provincial_settings WHERE decision = $1", RESOLUTION)


async def test_the_co_owners_recorded_for_a_residence_must_all_consent_unless_represented(
        pool: asyncpg.Pool, activities: DossierActivities):
    """The co-owners come from ``residence_co_owners`` in the eligibility check's one statement: the owner's consent
    alone is not enough until the co-owners appoint the owner to consent for all."""
    async with pool.acquire() as conn:
        tenant = await new_person(conn)
        owner = await new_person(conn, full_name="Đỗ Thị Hoa")
        co_owner = await new_person(conn, full_name="Đỗ Văn Bình")
        place = await new_place(conn, owner_id=owner.personal_id, floor_area_m2=60)
        await conn.execute("INSERT INTO residence_co_owners (residence_id, personal_id) VALUES ($1, $2), ($1, $3)",
                           place.residence_id, owner.personal_id, co_owner.personal_id)
    raw = registration(tenant, place, basis="rented_or_borrowed", consents=[consent("owner", owner)])
    raw["attachments"] = [attachment("certified_rental_contract")]

    async def refusals() -> list[str]:
        result = await ActivityEnvironment().run(activities.check_eligibility,
                                                 EligibilityCheck(submission=parse_submission(raw)))
        return [r.code for r in result.refusals]

    assert await refusals() == ["owner_consent_missing"]
    await pool.execute("UPDATE residence_co_owners SET representative = true WHERE residence_id = $1"
                       " AND personal_id = $2", place.residence_id, owner.personal_id)
    assert await refusals() == []


async def test_a_candidate_rule_set_lists_the_open_dossiers_it_would_judge_differently(desk: Desk,
                                                                                      pool: asyncpg.Pool):
    """Three open dossiers; a candidate set raising the registration fee and the floor-area minimum and lengthening
    temporary registration: the tenant's registration changes fee and outcome, the temporary registration its
    deadline, the owner's own registration only its fee, and the residence confirmation nothing."""
    from cutru.clients.rules import impact
    from domain.procedures.catalogue import parse_submission
    from domain.rulesets import RuleSet, rules_for
    from tests.integration.test_procedures import residence_confirmation, temporary_registration

    received = datetime(2031, 5, 5, 9, tzinfo=VN_TZ)
    async with pool.acquire() as conn:
        tenant, owner = await new_person(conn), await new_person(conn, full_name="Đỗ Thị Hoa")
        rented = await new_place(conn, owner_id=owner.personal_id, floor_area_m2=25, head_id=owner.personal_id)
        own = await new_place(conn, owner_id=tenant.personal_id)
        temporary = await temporary_registration(conn, received)
        confirmation = await residence_confirmation(conn, received)
    renting = registration(tenant, rented, basis="rented_or_borrowed", consents=[consent("owner", owner)])
    renting["attachments"] = [attachment("certified_rental_contract")]
    owning = registration(tenant, own)
    for raw in (renting, owning):
        raw["received_at"] = received.isoformat()
    codes = [raw["dossier_code"] for raw in (renting, owning, temporary.raw, confirmation.raw)]
    for raw in (renting, owning, temporary.raw, confirmation.raw):
        await desk.start(raw)
        status = await desk.wait_state(raw["dossier_code"], DossierState.AWAITING_DECISION, DossierState.REFUSED)
        assert status.state is DossierState.AWAITING_DECISION, status.refusals

    draft = rules_for(received).model_dump(mode="json")
    draft["procedures"]["PermanentResidenceRegistration"]["fee_online_vnd"] = 12000
    draft["procedures"]["TemporaryResidenceRegistration"]["deadline_working_days"] = 4
    draft["permanent_residence"]["min_floor_area_per_person_m2"] = 13
    report = await impact(pool, desk.dossiers, RuleSet.model_validate(draft))

    found = {i.dossier_code: {c.aspect: (c.before, c.after) for c in i.changes} for i in report.impacts
             if i.dossier_code in codes}
    assert found[renting["dossier_code"]] == {"fee": ("10000", "12000"),
                                             "outcome": ("accepted", "floor_area_too_small")}
    assert found[owning["dossier_code"]] == {"fee": ("10000", "12000")}
    before, after = found[temporary.code]["deadline"]
    assert before.startswith("3 working days, due 2031-05-08") and after.startswith("4 working days, due 2031-05-09")
    assert confirmation.code not in found
    assert parse_submission(renting).dossier_code not in report.not_in_engine
    for code in codes:
        await desk.decide(code, DecisionKind.REJECT, reason="Kiểm thử tác động quy định")


async def test_the_status_carries_the_pause_for_a_supplement(desk: Desk, pool: asyncpg.Pool):
    """After a supplement round the read model's deadline and proof are the restarted clock's, with its pause."""
    from cutru.api.portal import _DOSSIER, _view
    from domain.models import Supplement

    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    raw = registration(person, place)
    raw["received_at"] = datetime(2031, 6, 2, 9, tzinfo=VN_TZ).isoformat()
    code = raw["dossier_code"]
    await desk.start(raw)
    first = await desk.wait_state(code, DossierState.AWAITING_DECISION)
    await desk.decide(code, DecisionKind.REQUEST_SUPPLEMENT, missing_items=("Bản sao hợp đồng",))
    await desk.wait_state(code, DossierState.AWAITING_SUPPLEMENT)
    await desk.dossiers.supplement(code, Supplement(provided_items=("Bản sao hợp đồng",)))
    resumed = await desk.wait_state(code, DossierState.AWAITING_DECISION)
    await desk.decide(code, DecisionKind.REJECT, reason="Kiểm thử tạm dừng")  # writes the trail so far
    await desk.result(code)
    view = _view(await pool.fetchrow(_DOSSIER, code), [])
    assert view.deadline_proof is not None and len(view.deadline_proof.pauses) == 1
    assert view.deadline_proof.pauses[0].restarted_at is not None
    assert view.deadline_proof.deadline == resumed.deadline == view.deadline
    assert first.deadline is not None and resumed.deadline is not None and resumed.deadline >= first.deadline
