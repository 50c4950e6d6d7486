"""The supervisor's figures: each officer's workload and the unit's on-time rate.

The escalations (overdue and due within one working day) and the reassignment are the desk's own endpoints
(``cutru.api.officers``). A figure covers one unit: the one asked for, else the supervisor's own (the officer
record the database holds for the token's ``officer_id``); either must be a unit of the token.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from cutru.api.officers import officer_id_of
from cutru.api.problems import FieldError, problem_responses, validation_problem
from cutru.api.security import check_unit, forbidden, permit
from cutru.api.state import ApiState, api_state
from cutru.api.views import Day
from cutru.clients.officer import QUEUE_STATES, find_officer
from cutru.platform.oidc import Principal
from domain.calendar import VN_TZ, local_date
from domain.models import Boundary

router = APIRouter(prefix="/v1/supervise", tags=["officers"])

_READS = problem_responses(401, 403, 422)
DEFAULT_PERIOD = timedelta(days=30)
UnitQuery = Annotated[str | None, Query(pattern=r"^CA-[0-9]{5}$", description="one of your units (default: yours)")]

# Every officer of the unit with the open dossiers assigned to them; an inactive one only while still holding some.
_WORKLOAD_SQL = """
SELECT o.officer_id, o.full_name, o.role, o.active,
       count(d.dossier_code) AS open, count(d.dossier_code) FILTER (WHERE d.overdue) AS overdue
FROM officers o
LEFT JOIN dossiers d ON d.unit_code = o.unit_code AND d.assigned_officer = o.officer_id AND d.status = ANY($2::text[])
WHERE o.unit_code = $1
GROUP BY o.officer_id
HAVING o.active OR count(d.dossier_code) > 0
ORDER BY o.officer_id
"""

# The dossiers an officer decided (assigned at acceptance; closed approved or refused) that closed in the period:
# on time when the deadline had not passed at the decision, which the workflow marks as overdue when it passes.
_ON_TIME_SQL = """
SELECT count(*) AS decided, count(*) FILTER (WHERE NOT overdue) AS on_time
FROM dossiers
WHERE unit_code = $1 AND status IN ('completed', 'refused') AND assigned_officer IS NOT NULL
  AND updated_at >= $2 AND updated_at < $3
"""


class OfficerLoad(Boundary):
    officer_id: str
    full_name: str
    role: Literal["officer", "supervisor"]
    active: bool
    open: int
    overdue: int


class Workload(Boundary):
    police_unit: str
    officers: tuple[OfficerLoad, ...]


class OnTimeRate(Boundary):
    police_unit: str
    since: date
    until: date
    decided: int
    on_time: int
    rate: float | None  # None: nothing decided in the period


async def supervised_unit(state: ApiState, principal: Principal, unit: str | None) -> str:
    """The unit asked for, else the caller's own; 403 when the token does not cover it."""
    if unit is None:
        officer_id = officer_id_of(principal)
        officer = await find_officer(state.pool, officer_id)
        if officer is None:
            raise forbidden(f"Officer {officer_id} is not on any unit's roster: name the unit (?unit=).",
                            f"Cán bộ {officer_id} không thuộc đơn vị nào: hãy chọn đơn vị (?unit=).")
        unit = officer.unit_code
    check_unit(principal, unit)
    return unit


async def workload(state: ApiState, unit: str) -> Workload:
    rows = await state.pool.fetch(_WORKLOAD_SQL, unit, list(QUEUE_STATES))
    return Workload(police_unit=unit, officers=tuple(OfficerLoad.model_validate(dict(r)) for r in rows))


def period(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The period's first and last days (Vietnam's calendar): the last 30 days to today by default."""
    last = until or today
    first = since or last - DEFAULT_PERIOD + timedelta(days=1)
    if first > last:
        raise validation_problem([FieldError(field="since", message="must not be after until",
                                             message_vi="Ngày bắt đầu không được sau ngày kết thúc")])
    return first, last


async def on_time_rate(state: ApiState, unit: str, since: date, until: date) -> OnTimeRate:
    start = datetime.combine(since, time(), VN_TZ)
    end = datetime.combine(until + timedelta(days=1), time(), VN_TZ)
    row = await state.pool.fetchrow(_ON_TIME_SQL, unit, start, end)
    assert row is not None
    decided, on_time = int(row["decided"]), int(row["on_time"])
    return OnTimeRate(police_unit=unit, since=since, until=until, decided=decided, on_time=on_time,
                      rate=on_time / decided if decided else None)


@router.get("/workload", response_model=Workload, responses=_READS, operation_id="supervise_workload",
            summary="Supervisor: each officer's open dossiers and how many of them are overdue")
async def supervise_workload(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("workload"))],
    unit: UnitQuery = None,
) -> Workload:
    return await workload(state, await supervised_unit(state, principal, unit))


@router.get("/on-time", response_model=OnTimeRate, responses=_READS, operation_id="supervise_on_time",
            summary="Supervisor: the share of the unit's decided dossiers decided by their deadline, over a period")
async def supervise_on_time(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("on_time_rate"))],
    unit: UnitQuery = None,
    since: Annotated[Day | None, Query(description="first day, Vietnam time (default: 29 days before until)")]
    = None,
    until: Annotated[Day | None, Query(description="last day, Vietnam time (default: today)")] = None,
) -> OnTimeRate:
    first, last = period(since, until, local_date(datetime.now(VN_TZ)))
    return await on_time_rate(state, await supervised_unit(state, principal, unit), first, last)

