"""What operators and provinces declare, as data with the decision that made it (docs/rules.md).

``cutru calendar`` declares days off and swapped working days; ``cutru rules province`` records a provincial
People's Council's setting (the minimum floor area per person) with its effective date. Both tables are append-only
and are read by the workers' activities (``activities.facts``), so a dossier's history holds what it was judged by.
The database role of the connection is recorded as who declared.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import asyncpg
from temporalio.service import RPCError, RPCStatusCode

from activities.facts import calendar_snapshot, load_facts
from activities.records import OPEN
from cutru.clients.client import DossierClient
from domain.admin_units import province_name
from domain.calendar import FIRST_YEAR, LAST_YEAR, CalendarSnapshot
from domain.models import Boundary
from domain.procedures.catalogue import parse_submission
from domain.rule_impact import Impact, compare, judge
from domain.rulesets import ProvincialSetting, RuleSet, provincial_setting_problem

CalendarKind = Literal["day_off", "working_day", "withdrawn"]


class DeclarationRefused(ValueError):
    """A declaration the law or the calendar does not allow; nothing was written."""


class ProvincialValue(Boundary):
    province_code: str
    setting: ProvincialSetting
    value: Decimal
    effective_from: date
    decision: str
    declared_by: str


async def declare_day(conn: asyncpg.Connection, day: date, kind: CalendarKind, decision: str) -> CalendarSnapshot:
    """Record a day off, a swapped working day or the withdrawal of a day's declaration; the snapshot after it."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise DeclarationRefused(f"the working-day calendar covers {FIRST_YEAR}–{LAST_YEAR}, not {day}")
    if not 3 <= len(decision.strip()) <= 300:
        raise DeclarationRefused("name the decision that made the day (3 to 300 characters), "
                                 "e.g. \"Thông báo 6150/TB-BLĐTBXH\"")
    await conn.execute("INSERT INTO calendar_declarations (day, kind, decision, declared_by)"
                       " VALUES ($1, $2, $3, current_user)", day, kind, decision.strip())
    return await calendar_snapshot(conn)


async def set_provincial(conn: asyncpg.Connection, province_code: str, setting: ProvincialSetting, value: Decimal,
                         effective_from: date, decision: str) -> ProvincialValue:
    """Record a province's setting from ``effective_from``; refused below the law's floor or for no province."""
    if province_name(province_code) is None:
        raise DeclarationRefused(f"no province with code {province_code!r} (see domain/admin_units)")
    problem = provincial_setting_problem(setting, value, effective_from)
    if problem:
        raise DeclarationRefused(problem)
    if not 3 <= len(decision.strip()) <= 300:
        raise DeclarationRefused("name the People's Council's resolution (3 to 300 characters)")
    row = await conn.fetchrow(
        "INSERT INTO provincial_settings (province_code, setting, value, effective_from, decision, declared_by)"
        " VALUES ($1, $2, $3, $4, $5, current_user)"
        " RETURNING province_code, setting, value, effective_from, decision, declared_by",
        province_code, setting.value, value, effective_from, decision.strip())
    return ProvincialValue.model_validate(dict(row))


async def provincial_values(conn: asyncpg.Connection, province_code: str | None = None) -> list[ProvincialValue]:
    rows = await conn.fetch(
        "SELECT province_code, setting, value, effective_from, decision, declared_by FROM provincial_settings"
        " WHERE $1::text IS NULL OR province_code = $1 ORDER BY province_code, setting, effective_from, setting_id",
        province_code)
    return [ProvincialValue.model_validate(dict(row)) for row in rows]



# Open dossiers that an officer still judges (stay notifications are accepted at once: none is ever open for long).
_OPEN_DOSSIERS = (f"SELECT dossier_code FROM dossiers WHERE {OPEN} AND procedure <> 'StayNotification'"
                  " ORDER BY received_at, dossier_code")


class ImpactReport(Boundary):
    impacts: list[Impact]
    judged: int  # open dossiers re-judged
    not_in_engine: list[str]  # open in the read model, unknown to the workflow engine (its retention, a restore)


async def impact(pool: asyncpg.Pool, dossiers: DossierClient, candidate: RuleSet) -> ImpactReport:
    """Every open dossier (the read model), re-judged under ``candidate`` with its submission (the workflow's
    status) and today's facts: those whose deadline, fee, documents or outcome would change."""
    impacts: list[Impact] = []
    judged, not_in_engine = 0, []
    for row in await pool.fetch(_OPEN_DOSSIERS):
        try:
            status = await dossiers.status(row["dossier_code"])
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            not_in_engine.append(row["dossier_code"])
            continue
        if status.submission is None:
            continue  # refused as invalid before it was ever judged
        submission = parse_submission(status.submission)
        async with pool.acquire() as conn:
            facts = await load_facts(conn, submission)
        judged += 1
        changed = compare(submission, judge(submission, facts), judge(submission, facts, candidate))
        if changed is not None:
            impacts.append(changed)
    return ImpactReport(impacts=impacts, judged=judged, not_in_engine=not_in_engine)
