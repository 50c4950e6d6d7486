"""Statistics for a unit and a province over a period: dossiers by channel (the online share the provincial police
track), by procedure and by unit, the on-time rate, the median processing time and the fees collected; as JSON and
as CSV for Excel.

Who sees what, from the token's ``police_units`` claim (role supervisor): a unit of the claim (``?unit=``); a
province (``?province=``) when the claim covers every unit of it (``*``, or each of them listed): that is the
provincial scope, a unit's supervisor sees their unit only; without either, every unit of the claim (all units
for ``*``). Nothing personal is counted or shown.

Definitions (the period is whole days, Vietnam time):
- *received*: dossiers received in the period, by channel (online: a portal; assisted: filed online at the counter
  by an officer; in_person). The online share counts online and assisted dossiers: both were filed online.
- *decided*: dossiers an officer handled (assigned at acceptance) that closed approved or refused in the period;
  *on time* when the deadline had not passed (the workflow marks a dossier overdue when it passes); *processing
  time* from receipt to closing, its median over the decided dossiers. Dossiers closed at once by rule (stays)
  are not decided by anyone and would make the median meaningless.
- *fees collected*: payments confirmed in the period for dossiers of the scope.

The queries read the read model in one read-only, repeatable-read transaction: the figures are of one moment, and
the statement cannot write. They run as the API's own role (``cutru_api``, which reads ``dossiers``, ``payments`` and
``police_units``), not as ``cutru_reporting``: the API's login belongs to cutru_api only, and reporting's reach (every
personal register) is more than these figures need.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cutru.api.problems import FieldError, problem_responses, validation_problem
from cutru.api.security import check_unit, forbidden, permit
from cutru.api.state import ApiState, api_state
from cutru.api.supervisors import period
from cutru.api.views import Day
from cutru.platform.oidc import ANY, Principal
from domain.admin_units import province_name
from domain.calendar import VN_TZ, local_date
from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES

router = APIRouter(prefix="/v1/statistics", tags=["officers"])

CHANNELS: dict[str, str] = {"online": "Trực tuyến (cổng dịch vụ công)", "assisted": "Hỗ trợ nộp trực tuyến tại quầy",
                            "in_person": "Trực tiếp tại cơ quan công an"}
ONLINE = ("online", "assisted")
_READS = problem_responses(401, 403, 422)

# $1 the units (NULL: every unit), $2 and $3 the period's bounds.
_IN_SCOPE = "($1::text[] IS NULL OR d.unit_code = ANY($1::text[]))"
_RECEIVED = f"{_IN_SCOPE} AND d.received_at >= $2 AND d.received_at < $3"
_DECIDED = (f"{_IN_SCOPE} AND d.status IN ('completed', 'refused') AND d.assigned_officer IS NOT NULL"
            " AND d.updated_at >= $2 AND d.updated_at < $3")
_BY_CHANNEL = f"SELECT d.channel AS key, count(*) AS n FROM dossiers d WHERE {_RECEIVED} GROUP BY 1"
_BY_PROCEDURE = (
    "SELECT d.procedure AS key, count(*) AS n, count(*) FILTER (WHERE d.status = 'completed') AS completed,"
    f" count(*) FILTER (WHERE d.status = 'refused') AS refused FROM dossiers d WHERE {_RECEIVED} GROUP BY 1"
)
_BY_UNIT = f"""
SELECT coalesce(r.unit_code, c.unit_code) AS unit_code, u.name, coalesce(r.n, 0) AS received,
       coalesce(r.online, 0) AS online, coalesce(c.decided, 0) AS decided, coalesce(c.on_time, 0) AS on_time
FROM (SELECT d.unit_code, count(*) AS n, count(*) FILTER (WHERE d.channel IN ('online', 'assisted')) AS online
      FROM dossiers d WHERE {_RECEIVED} GROUP BY 1) r
FULL JOIN (SELECT d.unit_code, count(*) AS decided, count(*) FILTER (WHERE NOT d.overdue) AS on_time
           FROM dossiers d WHERE {_DECIDED} GROUP BY 1) c ON c.unit_code = r.unit_code
LEFT JOIN police_units u ON u.unit_code = coalesce(r.unit_code, c.unit_code)
ORDER BY 1
"""
_DECISIONS = (
    "SELECT count(*) AS decided, count(*) FILTER (WHERE NOT d.overdue) AS on_time,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.updated_at - d.received_at)) AS median"
    f" FROM dossiers d WHERE {_DECIDED}"
)
_FEES = (
    "SELECT count(*) AS paid, coalesce(sum(p.amount_vnd), 0) AS collected FROM payments p"
    f" JOIN dossiers d ON d.dossier_code = p.dossier_code WHERE {_IN_SCOPE}"
    " AND p.status = 'paid' AND p.paid_at >= $2 AND p.paid_at < $3"
)


class Scope(BaseModel):
    kind: Literal["unit", "province", "units", "country"]
    label: str = Field(description="in Vietnamese, e.g. 'Công an Phường Hoàn Kiếm' or 'Thành phố Hà Nội'")
    units: list[str] | None = Field(description="the units counted; null: every unit")


class ChannelCount(BaseModel):
    channel: Literal["online", "assisted", "in_person"]
    label: str
    dossiers: int
    share: float | None = Field(description="of the dossiers received; null when none was")


class ProcedureCount(BaseModel):
    procedure: Procedure
    label: str
    dossiers: int
    completed: int
    refused: int


class UnitFigures(BaseModel):
    unit_code: str
    name: str | None
    received: int
    online_share: float | None
    decided: int
    on_time: int
    on_time_rate: float | None


class Statistics(BaseModel):
    scope: Scope
    since: date
    until: date
    received: int
    online_share: float | None = Field(description="online and assisted dossiers over all received")
    by_channel: list[ChannelCount]
    by_procedure: list[ProcedureCount]
    by_unit: list[UnitFigures]
    decided: int
    on_time: int
    on_time_rate: float | None
    median_processing_hours: float | None = Field(description="receipt to closing, over the decided dossiers")
    fees_paid: int = Field(description="payments confirmed in the period")
    fees_collected_vnd: int


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def statistics_scope(state: ApiState, principal: Principal, unit: str | None, province: str | None) -> Scope:
    """What the caller asked for and may see: 403 beyond the token's units, 422 for both a unit and a province."""
    if unit is not None and province is not None:
        raise validation_problem([FieldError(field="province", message="ask for a unit or a province, not both",
                                             message_vi="Chọn một đơn vị hoặc một tỉnh, không chọn cả hai")])
    if unit is not None:
        check_unit(principal, unit)
        name = await state.pool.fetchval("SELECT name FROM police_units WHERE unit_code = $1", unit)
        return Scope(kind="unit", label=name or unit, units=[unit])
    if province is not None:
        units = [r["unit_code"] for r in await state.pool.fetch(
            "SELECT unit_code FROM police_units WHERE province_code = $1 ORDER BY unit_code", province)]
        if not units or not all(principal.has_unit(u) for u in units):
            raise forbidden(f"Your token does not cover every police unit of province {province}.",
                            f"Tài khoản không được phân quyền cho toàn bộ đơn vị của tỉnh {province}.")
        return Scope(kind="province", label=province_name(province) or province, units=units)
    if ANY in principal.units:
        return Scope(kind="country", label="Toàn quốc", units=None)
    units = sorted(principal.units)
    if len(units) == 1:
        return await statistics_scope(state, principal, units[0], None)
    return Scope(kind="units", label=f"{len(units)} đơn vị", units=units)


async def figures(pool: asyncpg.Pool, scope: Scope, since: date, until: date) -> Statistics:
    start = datetime.combine(since, time(), VN_TZ)
    end = datetime.combine(until + timedelta(days=1), time(), VN_TZ)
    args = (scope.units, start, end)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        channels = {r["key"]: int(r["n"]) for r in await conn.fetch(_BY_CHANNEL, *args)}
        procedures = await conn.fetch(_BY_PROCEDURE, *args)
        units = await conn.fetch(_BY_UNIT, *args)
        decisions = await conn.fetchrow(_DECISIONS, *args)
        fees = await conn.fetchrow(_FEES, *args)
    assert decisions is not None and fees is not None
    received = sum(channels.values())
    decided, on_time = int(decisions["decided"]), int(decisions["on_time"])
    median = decisions["median"]
    return Statistics(
        scope=scope, since=since, until=until, received=received,
        online_share=_share(sum(channels.get(c, 0) for c in ONLINE), received),
        by_channel=[ChannelCount(channel=c, label=label, dossiers=channels.get(c, 0),  # type: ignore[arg-type]
                                 share=_share(channels.get(c, 0), received)) for c, label in CHANNELS.items()],
        by_procedure=sorted((ProcedureCount(procedure=Procedure(r["key"]),
                                            label=PROCEDURES[Procedure(r["key"])].vietnamese_name,
                                            dossiers=r["n"], completed=r["completed"], refused=r["refused"])
                             for r in procedures), key=lambda p: (-p.dossiers, p.procedure.value)),
        by_unit=[UnitFigures(unit_code=r["unit_code"], name=r["name"], received=r["received"],
                             online_share=_share(r["online"], r["received"]), decided=r["decided"],
                             on_time=r["on_time"], on_time_rate=_share(r["on_time"], r["decided"])) for r in units],
        decided=decided, on_time=on_time, on_time_rate=_share(on_time, decided),
        median_processing_hours=None if median is None else round(float(median) / 3600, 1),
        fees_paid=int(fees["paid"]), fees_collected_vnd=int(fees["collected"]),
    )


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


CSV_HEADER = ("Nhóm", "Mã", "Tên", "Số hồ sơ", "Tỷ lệ (%)", "Giá trị")


def to_csv(stats: Statistics) -> bytes:
    """One table for a spreadsheet: a row per figure, grouped; UTF-8 with a byte-order mark, which Excel needs to
    read Vietnamese as UTF-8 rather than the system's code page."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    period_text = f"{stats.since:%d/%m/%Y} - {stats.until:%d/%m/%Y}"
    writer.writerow(("Phạm vi", stats.scope.kind, stats.scope.label, "", "", period_text))
    writer.writerow(("Tổng hợp", "received", "Hồ sơ tiếp nhận", stats.received, _percent(stats.online_share),
                     "tỷ lệ nộp trực tuyến"))
    for channel in stats.by_channel:
        writer.writerow(("Kênh nộp", channel.channel, channel.label, channel.dossiers, _percent(channel.share), ""))
    for procedure in stats.by_procedure:
        writer.writerow(("Thủ tục", procedure.procedure.value, procedure.label, procedure.dossiers, "",
                         f"hoàn thành {procedure.completed}; từ chối {procedure.refused}"))
    for unit in stats.by_unit:
        writer.writerow(("Đơn vị", unit.unit_code, unit.name or "", unit.received, _percent(unit.online_share),
                         f"đã giải quyết {unit.decided}; đúng hạn {unit.on_time} ({_percent(unit.on_time_rate)} %)"))
    writer.writerow(("Tổng hợp", "on_time", "Giải quyết đúng hạn", stats.on_time, _percent(stats.on_time_rate),
                     f"trên {stats.decided} hồ sơ đã giải quyết"))
    writer.writerow(("Tổng hợp", "median_processing_hours", "Thời gian giải quyết trung vị (giờ)", stats.decided,
                     "", "" if stats.median_processing_hours is None else f"{stats.median_processing_hours:.1f}"))
    writer.writerow(("Tổng hợp", "fees_collected_vnd", "Lệ phí đã thu (đồng)", stats.fees_paid, "",
                     stats.fees_collected_vnd))
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def csv_response(stats: Statistics) -> Response:
    """The CSV as a download named by its period (the API's and the desk's)."""
    name = f"thong-ke-{stats.since:%Y%m%d}-{stats.until:%Y%m%d}.csv"
    return Response(to_csv(stats), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


UnitQuery = Annotated[str | None, Query(pattern=r"^CA-[0-9]{5}$", description="one police unit of your token")]
ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{2}$",
                                            description="a province code; your token must cover all its units")]
SinceQuery = Annotated[Day | None, Query(description="first day, Vietnam time (default: 29 days before until)")]
UntilQuery = Annotated[Day | None, Query(description="last day, Vietnam time (default: today)")]


async def requested(state: ApiState, principal: Principal, unit: str | None, province: str | None,
                    since: date | None, until: date | None) -> Statistics:
    first, last = period(since, until, local_date(datetime.now(UTC)))
    return await figures(state.pool, await statistics_scope(state, principal, unit, province), first, last)


@router.get("", response_model=Statistics, responses=_READS, operation_id="statistics",
            summary="Supervisor: dossiers by channel, procedure and unit, on-time rate, median time, fees")
async def statistics(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("statistics"))],
    unit: UnitQuery = None, province: ProvinceQuery = None, since: SinceQuery = None, until: UntilQuery = None,
) -> Statistics:
    return await requested(state, principal, unit, province, since, until)


@router.get("/export.csv", response_class=Response, operation_id="statistics_csv",
            summary="Supervisor: the same figures as CSV (UTF-8 with BOM, for Excel)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the figures"},
                       **_READS})
async def statistics_csv(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("statistics"))],
    unit: UnitQuery = None, province: ProvinceQuery = None, since: SinceQuery = None, until: UntilQuery = None,
) -> Response:
    return csv_response(await requested(state, principal, unit, province, since, until))
