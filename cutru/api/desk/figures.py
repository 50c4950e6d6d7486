"""The statistics page of the desk: the figures of ``cutru.api.statistics`` for the period and scope chosen, each
chart drawn here as SVG on the server (no script) with a table of the same numbers beside it for screen readers and
for copying; the CSV download for Excel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from cutru.api.desk.guard import DeskRoute, Session, allowed
from cutru.api.desk.render import page
from cutru.api.state import ApiState, api_state
from cutru.api.statistics import Statistics, csv_response, requested
from cutru.api.views import Day
from cutru.platform.oidc import ANY

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

# Chart geometry, in SVG user units: a label column, then the bars, then room for the value written after a bar.
LABEL_WIDTH, BAR_SPACE, VALUE_SPACE, ROW = 230, 300, 110, 28
WIDTH = LABEL_WIDTH + BAR_SPACE + VALUE_SPACE
MAX_LABEL = 34  # characters of a label in the chart (the table beside it has the whole)
CHART_UNITS = 15  # units drawn in a chart; the table lists every one


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    y: int
    length: float


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    bars: tuple[Bar, ...]
    height: int
    width: int = WIDTH
    label_x: int = LABEL_WIDTH - 8
    bar_x: int = LABEL_WIDTH


def bar_chart(key: str, title: str, items: list[tuple[str, float, str]], maximum: float | None = None) -> Chart:
    """A horizontal bar chart of (label, value, value as written); the longest bar is ``maximum`` (default: the
    largest value)."""
    top = maximum if maximum is not None else max((value for _, value, _ in items), default=0.0)
    bars = tuple(Bar(label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…", shown, index * ROW,
                     round(BAR_SPACE * value / top, 1) if top else 0.0)
                 for index, (label, value, shown) in enumerate(items))
    return Chart(key, title, bars, max(len(bars), 1) * ROW)


def percent(value: float | None) -> str:
    """``83,3 %``: the Vietnamese decimal comma."""
    return "—" if value is None else f"{100 * value:.1f} %".replace(".", ",")


def vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng"


def charts(stats: Statistics) -> list[Chart]:
    units = sorted(stats.by_unit, key=lambda u: (-u.received, u.unit_code))[:CHART_UNITS]
    return [
        bar_chart("channel", "Hồ sơ tiếp nhận theo kênh nộp",
                  [(c.label, c.dossiers, f"{c.dossiers} ({percent(c.share)})") for c in stats.by_channel]),
        bar_chart("procedure", "Hồ sơ tiếp nhận theo thủ tục",
                  [(p.label, p.dossiers, str(p.dossiers)) for p in stats.by_procedure]),
        bar_chart("unit", "Hồ sơ tiếp nhận theo đơn vị",
                  [(u.name or u.unit_code, u.received, str(u.received)) for u in units]),
        bar_chart("on-time", "Tỷ lệ giải quyết đúng hạn theo đơn vị",
                  [(u.name or u.unit_code, u.on_time_rate or 0.0, percent(u.on_time_rate)) for u in units
                   if u.decided], maximum=1.0),
    ]


Since = Annotated[Day | None, Query()]
Until = Annotated[Day | None, Query()]
Unit = Annotated[str | None, Query(pattern=r"^(CA-[0-9]{5})?$")]
Province = Annotated[str | None, Query(pattern=r"^([0-9]{2})?$")]


@router.get("/statistics")
async def statistics_page(request: Request, session: Session, state: Annotated[ApiState, Depends(api_state)],
                          since: Since = None, until: Until = None, unit: Unit = None,
                          province: Province = None) -> Response:
    allowed(session, "statistics")
    stats = await requested(state, session.principal, unit or None, province or None, since, until)
    query = urlencode({"since": stats.since.isoformat(), "until": stats.until.isoformat(), "unit": unit or "",
                       "province": province or ""})
    return page(request, "statistics.html", stats=stats, charts=charts(stats), csv_query=query,
                units=sorted(u for u in session.principal.units if u != ANY), unit=unit or "",
                province=province or "", percent=percent, vnd=vnd)


@router.get("/statistics.csv")
async def statistics_csv(session: Session, state: Annotated[ApiState, Depends(api_state)],
                         since: Since = None, until: Until = None, unit: Unit = None,
                         province: Province = None) -> Response:
    allowed(session, "statistics")
    return csv_response(await requested(state, session.principal, unit or None, province or None, since, until))
