"""Residence-record commits, one small function per procedure, run inside one transaction per dossier.

``commit`` claims the dossier in ``residence_changes`` first: a retried activity finds the claim and changes
nothing, so each approved dossier changes the records exactly once. Each committer returns a summary (strings)
stored with the claim; the documents read it (``activities.delivery``): a residence confirmation's CT07 states
exactly what its commit read from the records.

"Today" is the Vietnamese calendar day of the activity's first scheduling (server time), so every retry of a
commit dates its records the same, and tests that skip time see the records dated in the skipped time.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.facts import records_of
from domain.admin_units import commune, province_name
from domain.calendar import local_date
from domain.documents import format_date
from domain.eligibility import HouseholdFacts, PersonRecords
from domain.models import SubmissionBase
from domain.procedures import Procedure
from domain.rules_declarations import stay_notified_late
from domain.rules_deletion import case_of, filed_late
from domain.rulesets import Period, PeriodUnit, rules_for

if TYPE_CHECKING:
    import asyncpg

Committer = Callable[["asyncpg.Connection", Any, HouseholdFacts], Awaitable[dict[str, str]]]

# Relation to the household head as printed on CT07 (quan hệ với chủ hộ).
RELATIONS_VI: dict[str, str] = {
    "head": "Chủ hộ", "spouse": "Vợ/chồng", "child": "Con", "parent": "Cha/mẹ", "sibling": "Anh/chị/em",
    "grandchild": "Cháu", "child_in_law": "Con dâu/con rể", "nephew_niece": "Cháu", "ward": "Người được giám hộ",
    "other_relative": "Người thân khác",
}


def activity_now() -> datetime:
    """The activity's first scheduling time inside an activity (stable across retries), else the wall clock."""
    return activity.info().scheduled_time if activity.in_activity() else datetime.now(UTC)


def today() -> date:
    return local_date(activity_now())


def format_address(province_code: str, commune_code: str, address_line: str) -> str:
    unit = commune(commune_code)
    return ", ".join(part for part in (address_line, unit.name if unit else commune_code,
                                       province_name(province_code)) if part)


async def commit_permanent_registration(
    conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
) -> dict[str, str]:
    """Đăng ký thường trú: the new record starts, the previous permanent residence ends (Điều 20 khoản 5)."""
    code, person = submission.dossier_code, submission.applicant.personal_id
    residence = facts.residence
    assert residence is not None, "eligibility guarantees a known residence"
    ended = await conn.fetchval(
        "UPDATE permanent_residences SET status = 'ended', valid_to = current_date, ended_by_dossier = $2"
        " WHERE personal_id = $1 AND status = 'active' RETURNING record_id",
        person, code,
    )
    record = await conn.fetchval(
        "INSERT INTO permanent_residences (personal_id, residence_id, valid_from, status, dossier_code)"
        " VALUES ($1, $2, current_date, 'active', $3) RETURNING record_id",
        person, residence.residence_id, code,
    )
    household = residence.household_id
    relation = submission.details.relation_to_head or "other_relative"
    if household is None:
        household = await conn.fetchval(
            "INSERT INTO households (residence_id, head_id, created_by_dossier) VALUES ($1, $2, $3)"
            " RETURNING household_id",
            residence.residence_id, person, code,
        )
        relation = "head"
    elif residence.household_head_id == person:
        relation = "head"
    await conn.execute(
        "INSERT INTO household_members (personal_id, household_id, relation_to_head) VALUES ($1, $2, $3)"
        " ON CONFLICT (personal_id) DO UPDATE SET household_id = EXCLUDED.household_id,"
        " relation_to_head = EXCLUDED.relation_to_head",
        person, household, relation,
    )
    return {"record_id": str(record), "ended_record_id": str(ended or ""), "household_id": str(household)}


async def _delete_record(conn: asyncpg.Connection, table: str, submission: Any, facts: HouseholdFacts,
                         kind: str) -> dict[str, str]:
    """Close one permanent or temporary record as deleted and keep why (``residence_deletions``)."""
    code, details = submission.dossier_code, submission.details
    assert facts.records is not None, "eligibility found the record"
    record = facts.records.permanent if kind == "permanent" else facts.records.temporary
    assert record is not None, "eligibility found the record"
    subject = facts.subject or facts.applicant
    on = today()
    deleted = await conn.fetchval(
        f"UPDATE {table} SET status = 'deleted', valid_to = LEAST(coalesce(valid_to, $3), $3),"
        " ended_by_dossier = $2 WHERE record_id = $1 AND status = 'active' RETURNING record_id",
        record.record_id, code, on,
    )
    ex_officio = details.police_notice is not None
    late = filed_late(submission)
    await conn.execute(
        "INSERT INTO residence_deletions (dossier_code, record_kind, record_id, personal_id, deletion_case,"
        " event_date, ex_officio, filed_late, deleted_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        code, kind, record.record_id, submission.subject_id, details.case.value, details.event_date, ex_officio,
        late, on,
    )
    notice = details.police_notice
    return {"record_id": str(record.record_id), "deleted": str(deleted is not None).lower(),
            "subject_name": subject.full_name, "case": details.case.value, "case_vi": case_of(submission).vietnamese,
            "ex_officio": str(ex_officio).lower(), "filed_late": str(late).lower(), "deleted_on": on.isoformat(),
            "notice": f"{notice.notice_number} ngày {format_date(notice.notified_on)}" if notice else "",
            "address": format_address(record.province_code, record.commune_code, record.address_line)}


async def commit_permanent_deletion(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                    ) -> dict[str, str]:
    """Xóa đăng ký thường trú (Điều 24): the record is closed as deleted and the person leaves the household.

    A head who leaves other members behind stays recorded as head until the household changes its head
    (Điều 26, điều chỉnh thông tin về cư trú): a household cannot be left without one.
    """
    summary = await _delete_record(conn, "permanent_residences", submission, facts, "permanent")
    assert facts.records is not None
    household = facts.records.household
    subject = submission.subject_id
    head_with_others = household is not None and household.head_id == subject and len(household.members) > 1
    if not head_with_others:
        await conn.execute("DELETE FROM household_members WHERE personal_id = $1", subject)
    return summary | {"household_head_change_needed": str(head_with_others).lower()}


async def commit_temporary_deletion(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                    ) -> dict[str, str]:
    """Xóa đăng ký tạm trú (Điều 29): the temporary record is closed as deleted."""
    return await _delete_record(conn, "temporary_residences", submission, facts, "temporary")


async def commit_temporary_registration(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                        ) -> dict[str, str]:
    """Đăng ký tạm trú: a new term from today, at most the rule set's maximum; a previous one ends (a move)."""
    code, person, details = submission.dossier_code, submission.applicant.personal_id, submission.details
    assert facts.residence is not None, "eligibility guarantees a known residence"
    start = today()
    longest = Period(amount=rules_for(submission.received_at).temporary_residence.max_term_months,
                     unit=PeriodUnit.MONTHS).end_from(start)
    valid_to = max(min(details.requested_until, longest), start)
    ended = await conn.fetchval(
        "UPDATE temporary_residences SET status = 'ended', valid_to = LEAST(valid_to, $3), ended_by_dossier = $2"
        " WHERE personal_id = $1 AND status = 'active' RETURNING record_id",
        person, code, start,
    )
    record = await conn.fetchval(
        "INSERT INTO temporary_residences (personal_id, residence_id, valid_from, valid_to, status, dossier_code)"
        " VALUES ($1, $2, $3, $4, 'active', $5) RETURNING record_id",
        person, facts.residence.residence_id, start, valid_to, code,
    )
    place = details.residence
    return {"record_id": str(record), "ended_record_id": str(ended or ""), "valid_from": start.isoformat(),
            "valid_to": valid_to.isoformat(),
            "address": format_address(place.province_code, place.commune_code, place.address_line)}


async def commit_temporary_extension(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                     ) -> dict[str, str]:
    """Gia hạn tạm trú: the term's end moves; the extension is kept with the end before and after."""
    assert facts.records is not None and facts.records.temporary is not None, "eligibility found the record"
    current = facts.records.temporary
    new_end = submission.details.requested_until
    await conn.execute("UPDATE temporary_residences SET valid_to = $2 WHERE record_id = $1 AND status = 'active'",
                       current.record_id, new_end)
    await conn.execute(
        "INSERT INTO temporary_residence_extensions (dossier_code, record_id, previous_valid_to, new_valid_to)"
        " VALUES ($1, $2, $3, $4)",
        submission.dossier_code, current.record_id, current.valid_to, new_end,
    )
    return {"record_id": str(current.record_id), "previous_valid_to": str(current.valid_to),
            "valid_to": new_end.isoformat(),
            "address": format_address(current.province_code, current.commune_code, current.address_line)}


async def commit_household_separation(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                      ) -> dict[str, str]:
    """Tách hộ: a new household at the same residence, created by this dossier; the members move into it."""
    assert facts.records is not None and facts.records.household is not None, "eligibility found the household"
    old = facts.records.household
    details = submission.details
    new = await conn.fetchval(
        "INSERT INTO households (residence_id, head_id, created_by_dossier) VALUES ($1, $2, $3)"
        " RETURNING household_id",
        old.residence_id, details.new_head_id, submission.dossier_code,
    )
    for member in details.members:
        await conn.execute(
            "UPDATE household_members SET household_id = $2, relation_to_head = $3"
            " WHERE personal_id = $1 AND household_id = $4",
            member.personal_id, new, member.relation_to_new_head, old.household_id,
        )
    return {"household_id": str(new), "from_household_id": str(old.household_id),
            "members": str(len(details.members))}


async def commit_residence_adjustment(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                      ) -> dict[str, str]:
    """Điều chỉnh thông tin về cư trú: a new household head, or the person's name after a civil-status change."""
    details = submission.details
    if details.change == "civil_status":
        await conn.execute("UPDATE people SET full_name = $2 WHERE personal_id = $1",
                           submission.applicant.personal_id, details.new_full_name)
        return {"change": "civil_status", "previous_full_name": facts.applicant.full_name,
                "full_name": details.new_full_name}
    assert facts.records is not None and facts.records.household is not None, "eligibility found the household"
    household = facts.records.household
    await conn.execute("UPDATE households SET head_id = $2 WHERE household_id = $1",
                       household.household_id, details.new_head_id)
    # The former head's relation to the new head is not declared: recorded as another relative.
    await conn.execute(
        "UPDATE household_members SET relation_to_head = CASE WHEN personal_id = $2 THEN 'head'"
        " ELSE 'other_relative' END WHERE household_id = $1 AND personal_id IN ($2, $3)",
        household.household_id, details.new_head_id, household.head_id,
    )
    return {"change": "household_head", "household_id": str(household.household_id),
            "previous_head_id": household.head_id, "head_id": details.new_head_id}


async def commit_residence_declaration(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                       ) -> dict[str, str]:
    """Khai báo thông tin về cư trú (Điều 19): the current place is recorded; an earlier declaration ends."""
    person, code, place = submission.applicant.personal_id, submission.dossier_code, submission.details.current_place
    on = today()
    await conn.execute(
        "UPDATE residence_declarations SET status = 'ended', ended_by_dossier = $2"
        " WHERE personal_id = $1 AND status = 'active'", person, code)
    declaration = await conn.fetchval(
        "INSERT INTO residence_declarations (dossier_code, personal_id, province_code, commune_code, address_line,"
        " residence_id, declared_on, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active') RETURNING declaration_id",
        code, person, place.province_code, place.commune_code, place.address_line,
        facts.residence.residence_id if facts.residence else None, on,
    )
    confirmation = await confirm(conn, submission, declared_residence=True)
    return {"declaration_id": str(declaration), **confirmation}


async def commit_residence_confirmation(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                        ) -> dict[str, str]:
    """Xác nhận thông tin về cư trú: read the records now (not the facts of the eligibility check) and state them."""
    return await confirm(conn, submission, declared_residence=None)


async def commit_stay_notification(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                   ) -> dict[str, str]:
    """Thông báo lưu trú: each guest's stay is kept with its period and whether the notice came late."""
    details, code = submission.details, submission.dossier_code
    late = stay_notified_late(submission)
    place = details.place
    await conn.executemany(
        "INSERT INTO stay_notifications (dossier_code, guest_no, personal_id, passport_number, full_name, birth_date,"
        " host_kind, province_code, commune_code, address_line, arrival, departure, reason, notified_at,"
        " notified_late) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        [(code, number, guest.personal_id, guest.passport_number, guest.full_name, guest.birth_date,
          details.host_kind, place.province_code, place.commune_code, place.address_line, details.arrival,
          details.departure, details.reason, submission.received_at, late)
         for number, guest in enumerate(details.guests, start=1)],
    )
    return {"guests": str(len(details.guests)), "arrival": details.arrival.isoformat(),
            "departure": details.departure.isoformat(), "notified_late": str(late).lower()}


async def commit_temporary_absence(conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
                                   ) -> dict[str, str]:
    """Khai báo tạm vắng: the declaration with its period, destination and reason (the CT03 content)."""
    details = submission.details
    await conn.execute(
        "INSERT INTO absence_declarations (dossier_code, personal_id, category, absence_from, absence_to,"
        " destination, reason, declared_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        submission.dossier_code, submission.applicant.personal_id, details.category, details.absence_from,
        details.absence_to, details.destination, details.reason, today(),
    )
    return {"category": details.category, "absence_from": details.absence_from.isoformat(),
            "absence_to": details.absence_to.isoformat()}


# ---- CT07: what a residence confirmation states -----------------------------------------------------------


async def ct07_statements(conn: asyncpg.Connection, personal_id: str) -> tuple[list[str], str, bool]:
    """(statements, fingerprint of the active records, whether the only residence is a declared one)."""
    records: PersonRecords = await records_of(conn, personal_id)
    lines = []
    if (p := records.permanent) is not None:
        lines.append(f"Nơi thường trú: {format_address(p.province_code, p.commune_code, p.address_line)}; "
                     f"đăng ký từ ngày {format_date(p.valid_from)}.")
    if (h := records.household) is not None and (member := h.member(personal_id)) is not None:
        head = h.member(h.head_id)
        if h.head_id == personal_id:
            lines.append("Là chủ hộ.")
        else:
            lines.append(f"Chủ hộ: {head.full_name if head else '—'}; quan hệ với chủ hộ: "
                         f"{RELATIONS_VI.get(member.relation_to_head, member.relation_to_head)}.")
    if (t := records.temporary) is not None:
        lines.append(f"Nơi tạm trú: {format_address(t.province_code, t.commune_code, t.address_line)}; "
                     f"từ ngày {format_date(t.valid_from)} đến ngày {format_date(t.valid_to or t.valid_from)}.")
    if (d := records.declaration) is not None:
        lines.append(f"Nơi ở hiện tại (khai báo theo Điều 19 Luật Cư trú): "
                     f"{format_address(d.province_code, d.commune_code, d.address_line)}; "
                     f"khai báo ngày {format_date(d.valid_from)}.")
    if not lines:
        lines.append("Chưa có thông tin về nơi thường trú, nơi tạm trú, nơi ở hiện tại "
                     "trong Cơ sở dữ liệu về cư trú.")
    fingerprint = ",".join(f"{kind}:{record.record_id}:{record.valid_to or ''}" for kind, record in (
        ("P", records.permanent), ("T", records.temporary), ("D", records.declaration)) if record is not None)
    declared_only = records.declaration is not None and records.permanent is None and records.temporary is None
    return lines, fingerprint, declared_only


async def confirm(conn: asyncpg.Connection, submission: Any, declared_residence: bool | None) -> dict[str, str]:
    """Record a CT07 for the applicant: its statements and its valid-until date under the dossier's rule set."""
    person = submission.applicant.personal_id
    statements, fingerprint, declared_only = await ct07_statements(conn, person)
    issued_on = today()
    declared = declared_only if declared_residence is None else declared_residence
    valid_until = rules_for(submission.received_at).ct07.valid_until(issued_on, declared_residence=declared)
    await conn.execute(
        "INSERT INTO residence_confirmations (dossier_code, personal_id, issued_on, valid_until, statements,"
        " records_fingerprint) VALUES ($1, $2, $3, $4, $5, $6)",
        submission.dossier_code, person, issued_on, valid_until, statements, fingerprint,
    )
    return {"valid_until": valid_until.isoformat(), "statements": json.dumps(statements, ensure_ascii=False)}


async def ct07_still_valid(conn: asyncpg.Connection, dossier_code: str, on: date) -> bool:
    """A CT07 holds until its date, and only while the person's residence records are those it stated."""
    row = await conn.fetchrow(
        "SELECT personal_id, valid_until, records_fingerprint FROM residence_confirmations WHERE dossier_code = $1",
        dossier_code)
    if row is None or on > row["valid_until"]:
        return False
    return (await ct07_statements(conn, row["personal_id"]))[1] == row["records_fingerprint"]


COMMITTERS: dict[Procedure, Committer] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: commit_permanent_registration,
    Procedure.PERMANENT_RESIDENCE_DELETION: commit_permanent_deletion,
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: commit_temporary_registration,
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: commit_temporary_extension,
    Procedure.TEMPORARY_RESIDENCE_DELETION: commit_temporary_deletion,
    Procedure.HOUSEHOLD_SEPARATION: commit_household_separation,
    Procedure.RESIDENCE_INFO_ADJUSTMENT: commit_residence_adjustment,
    Procedure.RESIDENCE_DECLARATION: commit_residence_declaration,
    Procedure.RESIDENCE_CONFIRMATION: commit_residence_confirmation,
    Procedure.STAY_NOTIFICATION: commit_stay_notification,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: commit_temporary_absence,
}


async def commit(
    conn: asyncpg.Connection, submission: SubmissionBase, facts: HouseholdFacts
) -> tuple[dict[str, str], bool]:
    """Apply the procedure's record change once; return its summary and whether it had been applied before."""
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    async with conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO residence_changes (dossier_code, procedure, summary) VALUES ($1, $2, '{}')"
            " ON CONFLICT (dossier_code) DO NOTHING RETURNING dossier_code",
            submission.dossier_code, procedure.value,
        )
        if claimed is None:
            stored = await conn.fetchval(
                "SELECT summary FROM residence_changes WHERE dossier_code = $1", submission.dossier_code
            )
            return json.loads(stored), True
        summary = await COMMITTERS[procedure](conn, submission, facts)
        await conn.execute(
            "UPDATE residence_changes SET summary = $2::jsonb WHERE dossier_code = $1",
            submission.dossier_code, json.dumps(summary),
        )
        return summary, False
