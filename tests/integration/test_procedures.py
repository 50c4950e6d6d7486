"""The ten procedures beyond permanent registration, end to end on the time-skipping test server with a real worker
and the real PostgreSQL test database: each happy path with its record change and documents, each refusal
reason, the supplement path of every officer-reviewed procedure, and the generated PDFs.

Every dossier is received at the test server's current time (``Desk.now``), which runs ahead of the wall clock
once a test has skipped time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader
from temporalio.api.enums.v1 import EventType

from domain.calendar import VN_TZ, local_date
from domain.documents import format_date
from domain.kinds import DocumentKind, Procedure
from domain.models import DecisionKind, DossierState, Supplement, TrailAction
from domain.procedures.catalogue import PROCEDURES
from domain.rulesets import fee_for
from tests.factories import (
    OTHER_COMMUNE,
    Desk,
    PersonRow,
    add_permanent,
    add_temporary,
    address,
    attachment,
    consent,
    household_with,
    new_person,
    new_place,
    procedure_desk,
    submission,
)


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


@dataclass
class Case:
    """A dossier ready to start, and the people it concerns (for the assertions)."""

    raw: dict[str, Any]
    people: dict[str, PersonRow] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return str(self.raw["dossier_code"])


Builder = Callable[[asyncpg.Connection, datetime], Awaitable[Case]]


def days(received: datetime, n: int) -> str:
    return (local_date(received) + timedelta(days=n)).isoformat()


# ---- happy-path builders, one per procedure -----------------------------------------------------------------


async def permanent_deletion(conn: asyncpg.Connection, now: datetime, **details: Any) -> Case:
    spouse = await new_person(conn, full_name="Phạm Thị Lan", birth_date=date(1962, 4, 1))
    deceased = await new_person(conn, full_name="Phạm Văn Hùng", sex="male", birth_date=date(1958, 9, 9),
                                status="dead")
    await household_with(conn, spouse, (deceased, "spouse"))
    raw = submission(Procedure.PERMANENT_RESIDENCE_DELETION, spouse, {
        "case": "death", "event_date": days(now, -3), "subject_id": deceased.personal_id} | details, received_at=now)
    return Case(raw, {"spouse": spouse, "deceased": deceased})


async def tenant_and_landlord(conn: asyncpg.Connection) -> tuple[PersonRow, PersonRow, Any]:
    """A tenant permanently registered in another commune, and a landlord's rental place in the demo commune."""
    tenant = await new_person(conn, full_name="Lê Minh Quân", sex="male", birth_date=date(1995, 6, 6))
    home = await new_place(conn, owner_id=tenant.personal_id, commune_code=OTHER_COMMUNE)
    await add_permanent(conn, tenant, home)
    landlord = await new_person(conn, full_name="Đỗ Thị Hoa", birth_date=date(1970, 3, 3))
    rental = await new_place(conn, owner_id=landlord.personal_id, floor_area_m2=25)
    return tenant, landlord, rental


async def temporary_registration(conn: asyncpg.Connection, now: datetime) -> Case:
    tenant, landlord, rental = await tenant_and_landlord(conn)
    raw = submission(Procedure.TEMPORARY_RESIDENCE_REGISTRATION, tenant, {
        "basis": "rented_or_borrowed", "residence": address(rental), "requested_until": days(now, 180)},
        consents=[consent("owner", landlord)], received_at=now)
    return Case(raw, {"tenant": tenant, "landlord": landlord})


async def temporary_extension(conn: asyncpg.Connection, now: datetime, *, ends_in: int = 10) -> Case:
    tenant, landlord, rental = await tenant_and_landlord(conn)
    await add_temporary(conn, tenant, rental, local_date(now) - timedelta(days=355),
                        local_date(now) + timedelta(days=ends_in))
    raw = submission(Procedure.TEMPORARY_RESIDENCE_EXTENSION, tenant, {"requested_until": days(now, ends_in + 365)},
                     consents=[consent("owner", landlord)], received_at=now)
    return Case(raw, {"tenant": tenant, "landlord": landlord})


async def temporary_deletion(conn: asyncpg.Connection, now: datetime) -> Case:
    tenant, landlord, rental = await tenant_and_landlord(conn)
    await add_temporary(conn, tenant, rental, local_date(now) - timedelta(days=100),
                        local_date(now) + timedelta(days=200))
    raw = submission(Procedure.TEMPORARY_RESIDENCE_DELETION, landlord, {
        "case": "housing_ended", "event_date": days(now, -1), "subject_id": tenant.personal_id}, received_at=now)
    return Case(raw, {"tenant": tenant, "landlord": landlord})


async def family(conn: asyncpg.Connection) -> dict[str, PersonRow]:
    """Head, his son and daughter-in-law, one household in the demo commune."""
    head = await new_person(conn, full_name="Trần Văn Đức", sex="male", birth_date=date(1958, 1, 1))
    son = await new_person(conn, full_name="Trần Minh Khoa", sex="male", birth_date=date(1988, 2, 2))
    in_law = await new_person(conn, full_name="Ngô Thị Thu", birth_date=date(1990, 3, 3))
    await household_with(conn, head, (son, "child"), (in_law, "child_in_law"))
    return {"head": head, "son": son, "in_law": in_law}


async def household_separation(conn: asyncpg.Connection, now: datetime) -> Case:
    people = await family(conn)
    raw = submission(Procedure.HOUSEHOLD_SEPARATION, people["son"], {"members": [
        {"personal_id": people["son"].personal_id, "relation_to_new_head": "head"},
        {"personal_id": people["in_law"].personal_id, "relation_to_new_head": "spouse"}]},
        consents=[consent("household_head", people["head"])], received_at=now)
    return Case(raw, people)


async def residence_adjustment(conn: asyncpg.Connection, now: datetime) -> Case:
    people = await family(conn)
    raw = submission(Procedure.RESIDENCE_INFO_ADJUSTMENT, people["son"], {
        "change": "household_head", "new_head_id": people["son"].personal_id},
        consents=[consent("household_head", people["head"])], received_at=now)
    return Case(raw, people)


async def residence_declaration(conn: asyncpg.Connection, now: datetime) -> Case:
    person = await new_person(conn, full_name="Đinh Văn Sơn", sex="male", birth_date=date(1985, 12, 12))
    place = await new_place(conn, owner_id=None)
    raw = submission(Procedure.RESIDENCE_DECLARATION, person, {
        "current_place": address(place), "reason_not_registered": "Không đủ điều kiện đăng ký thường trú, tạm trú"},
        received_at=now)
    return Case(raw, {"person": person})


async def residence_confirmation(conn: asyncpg.Connection, now: datetime) -> Case:
    people = await family(conn)
    raw = submission(Procedure.RESIDENCE_CONFIRMATION, people["son"], {"purpose": "Bổ sung hồ sơ xin việc"},
                     received_at=now)
    return Case(raw, people)


async def stay_notification(conn: asyncpg.Connection, now: datetime, **details: Any) -> Case:
    people = await family(conn)
    guest = await new_person(conn, full_name="Lý Thị Ngọc", birth_date=date(1999, 9, 9))
    raw = submission(Procedure.STAY_NOTIFICATION, people["head"], {
        "host_kind": "household", "place": address(line=await _home_line(conn, people["head"])),
        "guests": [{"full_name": guest.full_name, "birth_date": guest.birth_date.isoformat(), "sex": guest.sex,
                    "personal_id": guest.personal_id}],
        "arrival": _arrived_on_time(now).isoformat(), "departure": days(now, 5),
        "reason": "Thăm người thân"} | details, received_at=now)
    return Case(raw, people | {"guest": guest})


def _arrived_on_time(now: datetime) -> datetime:
    """An arrival an hour before ``now`` whose notice at ``now`` is on time (Điều 30: by 23:00 that day).

    Between 23:00 and midnight an arrival an hour earlier was due by 23:00, so the guest arrives at 23:00 instead,
    which makes the notice due by 08:00 the next day; the test then passes at any hour it runs.
    """
    local = now.astimezone(VN_TZ)
    return local.replace(minute=0, second=0, microsecond=0) if local.hour == 23 else now - timedelta(hours=1)


async def _home_line(conn: asyncpg.Connection, person: PersonRow) -> str:
    line: str = await conn.fetchval(
        "SELECT r.address_line FROM permanent_residences p JOIN residences r ON r.residence_id = p.residence_id"
        " WHERE p.personal_id = $1 AND p.status = 'active'", person.personal_id)
    return line


async def temporary_absence(conn: asyncpg.Connection, now: datetime, **details: Any) -> Case:
    people = await family(conn)
    raw = submission(Procedure.TEMPORARY_ABSENCE_DECLARATION, people["son"], {
        "category": "d", "absence_from": days(now, 5), "absence_to": days(now, 400),
        "destination": "Phường Hải Vân, Thành phố Đà Nẵng", "reason": "Đi làm việc dài hạn"} | details,
        received_at=now)
    return Case(raw, people)


HAPPY: dict[Procedure, Builder] = {
    Procedure.PERMANENT_RESIDENCE_DELETION: permanent_deletion,
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: temporary_registration,
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: temporary_extension,
    Procedure.TEMPORARY_RESIDENCE_DELETION: temporary_deletion,
    Procedure.HOUSEHOLD_SEPARATION: household_separation,
    Procedure.RESIDENCE_INFO_ADJUSTMENT: residence_adjustment,
    Procedure.RESIDENCE_DECLARATION: residence_declaration,
    Procedure.RESIDENCE_CONFIRMATION: residence_confirmation,
    Procedure.STAY_NOTIFICATION: stay_notification,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: temporary_absence,
}
REVIEWED = [p for p in HAPPY if PROCEDURES[p].officer_review]


async def build(desk: Desk, builder: Builder, **options: Any) -> Case:
    now = await desk.now()
    async with desk.pool.acquire() as conn:
        return await builder(conn, now, **options)


async def complete(desk: Desk, case: Case) -> Any:
    """Start, approve (when reviewed), pay (when there is a fee) and return the outcome."""
    procedure = Procedure(case.raw["procedure"])
    spec = PROCEDURES[procedure]
    await desk.start(case.raw)
    if spec.officer_review:
        await desk.approve(case.code)
    if spec.has_fee:
        await desk.pay(case.code)
    return await desk.result(case.code)


# ---- happy paths ---------------------------------------------------------------------------------------------


async def test_every_procedure_completes_with_its_documents_and_fee(desk: Desk):
    for procedure, builder in HAPPY.items():
        case = await build(desk, builder)
        outcome = await complete(desk, case)
        spec = PROCEDURES[procedure]
        assert outcome.state == DossierState.COMPLETED, (procedure, outcome.refusals)
        assert outcome.documents == spec.results
        assert outcome.fee_paid_vnd == (fee_for(procedure, "online", await desk.now()) if spec.has_fee else 0)
        delivered = await desk.pool.fetchval("SELECT documents FROM deliveries WHERE dossier_code = $1", case.code)
        assert delivered == ([k.value for k in spec.results] if spec.results else None)


async def test_permanent_deletion_closes_the_record_and_leaves_the_household(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, permanent_deletion)
    assert (await complete(desk, case)).state == DossierState.COMPLETED
    deceased = case.people["deceased"].personal_id
    record = await pool.fetchrow("SELECT status, ended_by_dossier FROM permanent_residences WHERE personal_id = $1",
                                 deceased)
    assert (record["status"], record["ended_by_dossier"]) == ("deleted", case.code)
    assert await pool.fetchval("SELECT count(*) FROM household_members WHERE personal_id = $1", deceased) == 0
    why = await pool.fetchrow("SELECT deletion_case, ex_officio, filed_late FROM residence_deletions"
                              " WHERE dossier_code = $1", case.code)
    assert tuple(why) == ("death", False, False)


async def test_a_late_deletion_is_still_made_and_the_lateness_recorded(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, permanent_deletion, event_date=days(await desk.now(), -30))
    await desk.start(case.raw)
    status = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    assert any("after the 7-day window" in line for line in status.findings)
    await desk.approve(case.code)
    assert (await desk.result(case.code)).state == DossierState.COMPLETED
    assert await pool.fetchval("SELECT filed_late FROM residence_deletions WHERE dossier_code = $1", case.code)


async def test_temporary_records_start_move_and_close(desk: Desk, pool: asyncpg.Pool):
    registered = await build(desk, temporary_registration)
    await complete(desk, registered)
    row = await pool.fetchrow("SELECT valid_from, valid_to, status FROM temporary_residences WHERE dossier_code = $1",
                              registered.code)
    assert row["status"] == "active"
    assert row["valid_to"].isoformat() == registered.raw["details"]["requested_until"]
    assert (row["valid_to"] - row["valid_from"]).days <= 731  # never more than the 2-year term

    extended = await build(desk, temporary_extension)
    await complete(desk, extended)
    tenant = extended.people["tenant"].personal_id
    assert (await pool.fetchval("SELECT valid_to FROM temporary_residences WHERE personal_id = $1 AND"
                                " status = 'active'", tenant)).isoformat() == extended.raw["details"]["requested_until"]
    assert await pool.fetchval("SELECT count(*) FROM temporary_residence_extensions WHERE dossier_code = $1",
                               extended.code) == 1

    deleted = await build(desk, temporary_deletion)
    await complete(desk, deleted)
    assert await pool.fetchval("SELECT status FROM temporary_residences WHERE personal_id = $1",
                               deleted.people["tenant"].personal_id) == "deleted"


async def test_household_separation_creates_the_new_household(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, household_separation)
    await complete(desk, case)
    household = await pool.fetchrow("SELECT household_id, head_id FROM households WHERE created_by_dossier = $1",
                                    case.code)
    assert household["head_id"] == case.people["son"].personal_id
    members = await pool.fetch("SELECT personal_id, relation_to_head FROM household_members WHERE household_id = $1"
                               " ORDER BY relation_to_head", household["household_id"])
    assert [(m["personal_id"], m["relation_to_head"]) for m in members] == [
        (case.people["son"].personal_id, "head"), (case.people["in_law"].personal_id, "spouse")]


async def test_adjustment_changes_the_head(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, residence_adjustment)
    await complete(desk, case)
    son = case.people["son"].personal_id
    household = await pool.fetchval("SELECT household_id FROM household_members WHERE personal_id = $1", son)
    assert await pool.fetchval("SELECT head_id FROM households WHERE household_id = $1", household) == son
    assert await pool.fetchval("SELECT relation_to_head FROM household_members WHERE personal_id = $1",
                               case.people["head"].personal_id) == "other_relative"


async def test_declaration_records_the_place_and_issues_ct07(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, residence_declaration)
    await complete(desk, case)
    row = await pool.fetchrow("SELECT status, address_line FROM residence_declarations WHERE dossier_code = $1",
                              case.code)
    assert (row["status"], row["address_line"]) == ("active", case.raw["details"]["current_place"]["address_line"])
    statements = await pool.fetchval("SELECT statements FROM residence_confirmations WHERE dossier_code = $1",
                                      case.code)
    assert statements[0].startswith("Nơi ở hiện tại (khai báo theo Điều 19 Luật Cư trú)")


async def test_confirmation_states_the_records_and_voids_when_they_change(desk: Desk, pool: asyncpg.Pool):
    from activities.records import ct07_still_valid

    case = await build(desk, residence_confirmation)
    await complete(desk, case)
    statements = await pool.fetchval("SELECT statements FROM residence_confirmations WHERE dossier_code = $1",
                                     case.code)
    assert statements[0].startswith("Nơi thường trú:") and "quan hệ với chủ hộ: Con" in statements[1]
    today = local_date(await desk.now())
    async with pool.acquire() as conn:
        assert await ct07_still_valid(conn, case.code, today)
        elsewhere = await new_place(conn, owner_id=None, commune_code=OTHER_COMMUNE)
        await add_temporary(conn, case.people["son"], elsewhere, today, today + timedelta(days=90))
        assert not await ct07_still_valid(conn, case.code, today)  # the residence data changed: void


async def test_stay_is_recorded_and_closed_within_one_workflow_task(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, stay_notification)
    handle = await desk.start(case.raw)
    outcome = await handle.result()
    assert outcome.state == DossierState.COMPLETED and outcome.fee_paid_vnd == 0 and outcome.decided_by is None
    stay = await pool.fetchrow("SELECT personal_id, departure, notified_late FROM stay_notifications"
                               " WHERE dossier_code = $1", case.code)
    assert (stay["personal_id"], stay["departure"].isoformat(), stay["notified_late"]) == (
        case.people["guest"].personal_id, case.raw["details"]["departure"], False)
    events = [e.event_type for e in (await handle.fetch_history()).events]
    # accept_immediately runs as a local activity: checked, recorded and closed in the first workflow task, whose
    # commands are the version marker, the local activity's marker, the status upserts and the completion.
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in events
    assert events[:4] == [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                          EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert set(events[4:-1]) == {EventType.EVENT_TYPE_MARKER_RECORDED,
                                 EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES}


async def test_a_late_stay_notification_is_accepted_and_marked_late(desk: Desk, pool: asyncpg.Pool):
    now = await desk.now()
    case = await build(desk, stay_notification, arrival=(now - timedelta(days=2)).isoformat())
    outcome = await (await desk.start(case.raw)).result()
    assert outcome.state == DossierState.COMPLETED
    assert await pool.fetchval("SELECT notified_late FROM stay_notifications WHERE dossier_code = $1", case.code)


async def test_absence_slip_ct03_shows_the_period_in_its_pdf(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, temporary_absence)
    await complete(desk, case)
    text = await pdf_text(pool, case.code, DocumentKind.CT03)
    details = case.raw["details"]
    for expected in (case.code, case.people["son"].full_name, "PHIẾU KHAI BÁO TẠM VẮNG",
                     format_date(date.fromisoformat(details["absence_from"])),
                     format_date(date.fromisoformat(details["absence_to"])), "Đà Nẵng"):
        assert expected in text, expected
    ct08 = await pdf_text(pool, case.code, DocumentKind.CT08)
    assert "Đã tiếp nhận khai báo tạm vắng" in ct08
    assert await pool.fetchval("SELECT category FROM absence_declarations WHERE dossier_code = $1", case.code) == "d"


async def pdf_text(pool: asyncpg.Pool, code: str, kind: DocumentKind) -> str:
    """The text of a stored document, as a PDF reader extracts it (whitespace collapsed).

    A dossier shows its new state before the activity issuing the document has finished: wait for the row.
    """
    for _ in range(100):
        path = await pool.fetchval("SELECT path FROM documents WHERE dossier_code = $1 AND kind = $2", code,
                                   kind.value)
        if path:
            break
        await asyncio.sleep(0.05)
    assert path, f"no {kind} for {code}"
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return " ".join(text.split())


async def test_receipt_ct04_and_confirmation_ct07_pdfs(desk: Desk, pool: asyncpg.Pool):
    case = await build(desk, residence_confirmation)
    await desk.start(case.raw)
    status = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    assert status.deadline is not None
    receipt = await pdf_text(pool, case.code, DocumentKind.CT04)
    for expected in (case.code, case.people["son"].full_name, format_date(local_date(status.deadline))):
        assert expected in receipt, expected
    await desk.approve(case.code)
    await desk.result(case.code)
    valid_until = await pool.fetchval("SELECT valid_until FROM residence_confirmations WHERE dossier_code = $1",
                                      case.code)
    ct07 = await pdf_text(pool, case.code, DocumentKind.CT07)
    for expected in (case.code, case.people["son"].full_name, f"có giá trị đến ngày {format_date(valid_until)}",
                     "Nơi thường trú:"):
        assert expected in ct07, expected


# ---- supplement, officer rejection and identity, for every procedure -----------------------------------------


@pytest.mark.parametrize("procedure", REVIEWED, ids=str)
async def test_supplement_stops_the_clock_then_the_dossier_completes(desk: Desk, pool: asyncpg.Pool,
                                                                     procedure: Procedure):
    case = await build(desk, HAPPY[procedure])
    await desk.start(case.raw)
    await desk.decide(case.code, DecisionKind.REQUEST_SUPPLEMENT, missing_items=("Bản sao giấy tờ tùy thân",))
    await desk.wait_state(case.code, DossierState.AWAITING_SUPPLEMENT)
    assert "Bản sao giấy tờ tùy thân" in await pdf_text(pool, case.code, DocumentKind.CT05)
    await desk.dossiers.supplement(case.code, Supplement(provided_items=("Bản sao giấy tờ tùy thân",)))
    await desk.approve(case.code)
    if PROCEDURES[procedure].has_fee:
        await desk.pay(case.code)
    outcome = await desk.result(case.code)
    assert outcome.state == DossierState.COMPLETED
    actions = [entry.action for entry in (await desk.status(case.code)).trail]
    assert (actions.index(TrailAction.SUPPLEMENT_REQUESTED) < actions.index(TrailAction.SUPPLEMENTED)
            < actions.index(TrailAction.PROPOSED) < actions.index(TrailAction.SIGNED_OFF))


@pytest.mark.parametrize("procedure", REVIEWED, ids=str)
async def test_officer_rejection_issues_ct06(desk: Desk, pool: asyncpg.Pool, procedure: Procedure):
    case = await build(desk, HAPPY[procedure])
    await desk.start(case.raw)
    await desk.decide(case.code, DecisionKind.REJECT, reason="Thông tin kê khai không đúng thực tế")
    outcome = await desk.result(case.code)
    assert outcome.state == DossierState.REFUSED and outcome.refusals[0].code == "officer_rejected"
    assert "Thông tin kê khai không đúng thực tế" in await pdf_text(pool, case.code, DocumentKind.CT06)


@pytest.mark.parametrize("procedure", list(HAPPY), ids=str)
async def test_identity_mismatch_is_refused(desk: Desk, procedure: Procedure):
    case = await build(desk, HAPPY[procedure])
    case.raw["applicant"]["full_name"] += " Anh"
    outcome = await (await desk.start(case.raw)).result()
    assert outcome.state == DossierState.REFUSED
    assert [r.code for r in outcome.refusals] == ["identity_mismatch"]


# ---- each procedure's own refusal reasons --------------------------------------------------------------------
# Each case builds the happy dossier and changes one thing, in the submission or in the databases. Refusals that
# the workflow itself makes unreachable (``notice_window_open``: the workflow waits for the window) or that need
# a rule set which does not exist yet (``repeat_notice_not_allowed``) are covered by the pure rule tests.

Change = Callable[[asyncpg.Connection, Case, datetime], Awaitable[None]]


def details(**values: Any) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        case.raw["details"].update(values)
    return change


def field_(**values: Any) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        case.raw.update(values)
    return change


def sql(statement: str, who: str) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        await conn.execute(statement, case.people[who].personal_id)
    return change


def applicant(who: str | None = None) -> Change:
    """Someone else files: ``who`` from the case, or an outsider."""
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        person = case.people[who] if who else await new_person(conn, full_name="Lê Văn Tám", sex="male",
                                                                birth_date=date(1980, 1, 1))
        case.raw["applicant"] = {"personal_id": person.personal_id, "full_name": person.full_name,
                                 "birth_date": person.birth_date.isoformat(), "sex": person.sex}
    return change


def relative(key: str, n: int) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        case.raw["details"][key] = days(now, n)
    return change


async def unknown_subject(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    ghost = await new_person(conn, full_name="Người Không Có", sex="male", birth_date=date(1970, 1, 1))
    await conn.execute("DELETE FROM people WHERE personal_id = $1", ghost.personal_id)
    case.raw["details"]["subject_id"] = ghost.personal_id


async def temporary_elsewhere(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    person = case.people.get("deceased") or case.people["son"]
    place = await new_place(conn, owner_id=None, commune_code=OTHER_COMMUNE)
    await add_temporary(conn, person, place, local_date(now) - timedelta(days=300), local_date(now) + timedelta(30))


async def rental_place(conn: asyncpg.Connection, case: Case, now: datetime, **place: Any) -> None:
    other = await new_place(conn, owner_id=case.people["landlord"].personal_id, **place)
    case.raw["details"]["residence"] = address(other)


async def unknown_place(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    case.raw["details"]["residence"] = address(line="Số 999 phố Không Có")


async def barred(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    await rental_place(conn, case, now, barred_reason="nhà ở đang có tranh chấp quyền sở hữu")


async def minor(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    child = await new_person(conn, full_name="Lê Thị Na", birth_date=date(2014, 2, 2))
    case.people["child"] = child
    await applicant("child")(conn, case, now)


async def registered_here(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    place = await conn.fetchval("SELECT residence_id FROM residences WHERE commune_code = '00070' AND address_line"
                                " = $1", case.raw["details"]["residence"]["address_line"])
    await conn.execute("INSERT INTO temporary_residences (personal_id, residence_id, valid_from, valid_to, status)"
                       " VALUES ($1, $2, $3, $4, 'active')", case.people["tenant"].personal_id, place,
                       local_date(now), local_date(now) + timedelta(days=90))


async def permanent_in_demo_commune(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    await conn.execute("UPDATE residences SET commune_code = '00070' WHERE residence_id = (SELECT residence_id FROM"
                       " permanent_residences WHERE personal_id = $1 AND status = 'active')",
                       case.people["tenant"].personal_id)


async def join_without_household(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    case.raw["details"] |= {"basis": "join_relative", "relation_to_head": "nephew_niece"}


async def join_without_head_consent(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    head = await new_person(conn, full_name="Trần Văn Đức", sex="male", birth_date=date(1958, 1, 1))
    place = await household_with(conn, head, owner=case.people["landlord"])
    case.raw["details"] |= {"basis": "join_relative", "relation_to_head": "nephew_niece", "residence": address(place)}


async def renew_for_stranger(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    outsider = await new_person(conn, full_name="Vũ Thị Mai", birth_date=date(1997, 7, 7))
    case.raw["applicant"] = {"personal_id": outsider.personal_id, "full_name": outsider.full_name,
                             "birth_date": outsider.birth_date.isoformat(), "sex": outsider.sex}
    case.raw["details"]["subject_id"] = case.people["tenant"].personal_id


async def term_ends(conn: asyncpg.Connection, case: Case, now: datetime, in_days: int) -> None:
    await conn.execute("UPDATE temporary_residences SET valid_to = $2 WHERE personal_id = $1 AND status = 'active'",
                       case.people["tenant"].personal_id, local_date(now) + timedelta(days=in_days))


def ending_in(n: int) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        await term_ends(conn, case, now, n)
    return change


async def permanent_here_case(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    case.raw["details"]["case"] = "registered_permanent_here"


def members(*listed: tuple[str, str]) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        case.raw["details"]["members"] = [{"personal_id": case.people[who].personal_id, "relation_to_new_head": r}
                                          for who, r in listed]
    return change


async def add_outsider_member(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    case.people["outsider"] = await new_person(conn, full_name="Lê Văn Tám", sex="male", birth_date=date(1980, 1, 1))
    await members(("son", "head"), ("outsider", "sibling"))(conn, case, now)


async def add_grandchild(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    child = await new_person(conn, full_name="Trần Gia Bảo", sex="male", birth_date=date(2016, 4, 4))
    household = await conn.fetchval("SELECT household_id FROM household_members WHERE personal_id = $1",
                                     case.people["son"].personal_id)
    await conn.execute("INSERT INTO household_members (personal_id, household_id, relation_to_head)"
                       " VALUES ($1, $2, 'grandchild')", child.personal_id, household)
    case.people["grandchild"] = child


def then(*changes: Change) -> Change:
    async def change(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
        for step in changes:
            await step(conn, case, now)
    return change


async def not_a_member_anymore(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    await conn.execute("DELETE FROM household_members WHERE personal_id = $1", case.people["son"].personal_id)


async def stay_elsewhere(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    case.raw["details"]["place"] = address(line="Số 1 phố Tràng Thi", commune_code=OTHER_COMMUNE)


async def unknown_guest(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    await conn.execute("UPDATE people SET status = 'dead' WHERE personal_id = $1", case.people["guest"].personal_id)


async def guest_renamed(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    case.raw["details"]["guests"][0]["full_name"] = "Lý Thị Ngân"


async def unknown_subject_as_head(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    outsider = await new_person(conn, full_name="Lê Văn Tám", sex="male", birth_date=date(1980, 1, 1))
    case.raw["details"]["new_head_id"] = outsider.personal_id


async def registered_somewhere(conn: asyncpg.Connection, case: Case, now: datetime) -> None:
    place = await new_place(conn, owner_id=None, commune_code=OTHER_COMMUNE)
    await add_permanent(conn, case.people["person"], place)


REFUSALS: dict[Procedure, dict[str, Change]] = {
    Procedure.PERMANENT_RESIDENCE_DELETION: {
        "subject_unknown": unknown_subject,
        "no_permanent_residence": sql("UPDATE permanent_residences SET status = 'ended' WHERE personal_id = $1",
                                      "deceased"),
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "not_entitled_to_file": applicant(),
        "death_not_recorded": sql("UPDATE people SET status = 'alive' WHERE personal_id = $1", "deceased"),
        "waiting_period_not_over": then(details(case="housing_ended"), relative("event_date", -100)),
        "absence_covered": then(details(case="absent_12_months"), relative("event_date", -400), temporary_elsewhere),
    },
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: {
        "residence_unknown": unknown_place,
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "barred_place": barred,
        "minor_without_guardian_consent": minor,
        "term_below_registration_trigger": relative("requested_until", 20),
        "term_too_long": relative("requested_until", 800),
        "within_commune_of_permanent_residence": permanent_in_demo_commune,
        "already_registered_here": registered_here,
        "not_owner": details(basis="own_residence"),
        "no_household_to_join": join_without_household,
        "household_head_consent_missing": join_without_head_consent,
        "owner_consent_missing": field_(consents=[]),
    },
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: {
        "subject_unknown": unknown_subject,
        "no_temporary_residence": sql("UPDATE temporary_residences SET status = 'ended' WHERE personal_id = $1",
                                      "tenant"),
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "extension_too_early": ending_in(40),
        "temporary_residence_expired": ending_in(-1),
        "extension_not_later": relative("requested_until", 5),
        "term_too_long": relative("requested_until", 800),
        "not_household_member": renew_for_stranger,
        "owner_consent_missing": field_(consents=[]),
    },
    Procedure.TEMPORARY_RESIDENCE_DELETION: {
        "subject_unknown": unknown_subject,
        "no_temporary_residence": sql("UPDATE temporary_residences SET status = 'ended' WHERE personal_id = $1",
                                      "tenant"),
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "not_entitled_to_file": applicant(),
        "death_not_recorded": details(case="death"),
        "case_not_established": permanent_here_case,
    },
    Procedure.HOUSEHOLD_SEPARATION: {
        "no_household": not_a_member_anymore,
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "not_entitled_to_file": then(members(("son", "head")), applicant("in_law")),
        "members_not_in_household": add_outsider_member,
        "head_cannot_separate": members(("son", "head"), ("head", "parent")),
        "no_member_with_full_capacity": then(add_grandchild, applicant("head"), members(("grandchild", "head"))),
        "new_head_without_full_capacity": sql("UPDATE people SET full_civil_capacity = false WHERE personal_id = $1",
                                              "son"),
        "divorce_unproven": then(details(divorce={}), field_(attachments=[attachment("residence_right_proof")])),
        "divorce_residence_right_unproven": then(details(divorce={}),
                                                 field_(attachments=[attachment("divorce_decision")])),
        "household_head_consent_missing": field_(consents=[]),
    },
    Procedure.RESIDENCE_INFO_ADJUSTMENT: {
        "address_adjusted_by_police": details(change="address", new_address_line="Số 3 phố Hàng Gai"),
        "no_procedure_needed": details(change="civil_status", new_full_name="Trần Minh Khôi",
                                       civil_status_source="electronic_civil_status_db"),
        "civil_status_proof_missing": details(change="civil_status", new_full_name="Trần Minh Khôi"),
        "nothing_to_change": details(change="civil_status", new_full_name="Trần Minh Khoa",
                                     civil_status_extract_number="12/TLKS"),
        "no_household": not_a_member_anymore,
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "new_head_not_member": unknown_subject_as_head,
        "new_head_without_full_capacity": sql("UPDATE people SET full_civil_capacity = false WHERE personal_id = $1",
                                              "son"),
        "household_head_consent_missing": field_(consents=[]),
    },
    Procedure.RESIDENCE_DECLARATION: {
        "wrong_police_unit": field_(police_unit="CA-00073"),
        "minor_without_guardian_consent": minor,
        "has_registered_residence": registered_somewhere,
    },
    Procedure.STAY_NOTIFICATION: {
        "wrong_police_unit": stay_elsewhere,
        "stay_too_long": relative("departure", 40),
        "guest_unknown": unknown_guest,
        "guest_identity_mismatch": guest_renamed,
        "repeat_notice_only_for_households": details(repeated_relative_visits=True, host_kind="hotel"),
    },
    Procedure.TEMPORARY_ABSENCE_DECLARATION: {
        "not_resident_here": sql("UPDATE permanent_residences SET status = 'ended' WHERE personal_id = $1", "son"),
        "declaration_not_required": relative("absence_to", 100),
        "supervising_authority_consent_missing": details(category="a"),
    },
}


@pytest.mark.parametrize(("procedure", "reason"), [(p, r) for p, reasons in REFUSALS.items() for r in reasons],
                         ids=lambda value: str(value))
async def test_each_refusal_reason(desk: Desk, procedure: Procedure, reason: str):
    now = await desk.now()
    async with desk.pool.acquire() as conn:
        case = await HAPPY[procedure](conn, now)
        await REFUSALS[procedure][reason](conn, case, now)
    outcome = await (await desk.start(case.raw)).result()
    assert outcome.state == DossierState.REFUSED
    assert [r.code for r in outcome.refusals] == [reason]
    if reason == "wrong_police_unit":
        # Delivered as CT06 with the reason in Vietnamese, stay notifications (answered at once) included.
        assert outcome.documents == (DocumentKind.CT06,)
        assert "thuộc thẩm quyền giải quyết của Công an" in await pdf_text(desk.pool, case.code, DocumentKind.CT06)


def test_every_procedure_has_refusal_cases():
    assert set(REFUSALS) | {Procedure.RESIDENCE_CONFIRMATION} == set(HAPPY)  # confirmation refuses identity only
