"""The auditors' endpoints: the closed dossiers, a dossier's decision trail, its replay verdict, and its history
export.

An auditor's token covers every unit (``police_units: *``) or some; a dossier outside them is 404, as one that does
not exist. The dossier's unit comes from the read model, or, for what the read model does not list (a stay
register), from the workflow's ``PoliceUnit`` search attribute.

Where each answer comes from: the trail from the audit table, cutru's own; the replay and the export from Temporal
while it keeps the workflow, then from the history exported when the dossier closed (``cutru.service.archive``),
so a closed dossier stays auditable after the namespace's retention. The replay report's ``source`` and the
export's ``Cutru-History-Source`` header say which.

The trail, the replay and the export each read the dossier's personal data: each is recorded
(``cutru.platform.reads``) once allowed and in hand, and the trail shows who read the dossier. The search lists no
personal data (no name, no ID number), so it is not a read of any dossier's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from google.protobuf.json_format import MessageToJson
from temporalio.service import RPCError, RPCStatusCode

from activities.trail import ROWS as TRAIL_ROWS
from activities.trail import standing
from cutru.api.client import AuditTrail, DossierRead, SupersededEntry
from cutru.api.problems import FieldError, dossier_not_found, problem_responses, validated, validation_problem
from cutru.api.security import check_procedure, check_readable, check_unit, permit
from cutru.api.state import ApiState, api_state
from cutru.api.views import Day, Page, after_time_and_code, encode_cursor
from cutru.clients import audit
from cutru.clients.officer import dossier_row
from cutru.platform.codec import replay_converter_of
from cutru.platform.config import SEARCH_ATTRIBUTES
from cutru.platform.oidc import ANY, Principal
from cutru.platform.reads import Channel, record_reads
from cutru.service.archive import archived_file, archived_history
from domain.calendar import VN_TZ
from domain.kinds import Procedure
from domain.models import Boundary, TrailEntry

router = APIRouter(prefix="/v1/audit", tags=["auditors"])

_READS = problem_responses(401, 403, 404)
# Where the history export was read: temporal, or archive once Temporal no longer has the workflow.
HISTORY_SOURCE_HEADER = "Cutru-History-Source"
_UNIT_ATTRIBUTE, _PROCEDURE_ATTRIBUTE = "PoliceUnit", "DossierProcedure"
assert {_UNIT_ATTRIBUTE, _PROCEDURE_ATTRIBUTE} <= set(SEARCH_ATTRIBUTES)

# The audit table's rows of dossier $1 (an array of one code) as trail entries: the entry's own time (details.at)
# where it was recorded; with why a lost workflow task's row was superseded (activities.trail).
_TRAIL_SQL = f"""
SELECT coalesce((details->>'at')::timestamptz, at) AS at, actor, action, coalesce(details->>'detail', '') AS detail,
       superseded
FROM ({TRAIL_ROWS}) e
ORDER BY coalesce((details->>'at')::timestamptz, at), event_id
"""

# Who read the dossier's personal data, oldest first.
_READS_SQL = """
SELECT at, subject, officer_id, roles, channel, operation FROM personal_data_reads WHERE dossier_code = $1
ORDER BY at, read_id
"""

Outcome = Literal["completed", "refused", "withdrawn", "cancelled"]
_OUTCOMES: tuple[Outcome, ...] = ("completed", "refused", "withdrawn", "cancelled")

# Closed dossiers of the units and procedures (NULL: every one), newest closure first, after the cursor's
# (closed_at, code). A dossier's closure is the read model's last change, the one that wrote its final status.
_CLOSED_SQL = """
SELECT dossier_code, procedure, unit_code AS police_unit, status AS outcome, received_at, deadline, overdue,
       updated_at AS closed_at, assigned_officer
FROM dossiers
WHERE status = ANY($1::text[])
  AND ($2::text[] IS NULL OR unit_code = ANY($2::text[]))
  AND ($3::text[] IS NULL OR procedure = ANY($3::text[]))
  AND ($4::text IS NULL OR dossier_code = $4)
  AND ($5::timestamptz IS NULL OR updated_at >= $5) AND ($6::timestamptz IS NULL OR updated_at < $6)
  AND ($7::timestamptz IS NULL OR (updated_at, dossier_code) < ($7, $8))
ORDER BY updated_at DESC, dossier_code DESC
LIMIT $9
"""


class ClosedDossier(Boundary):
    """A closed dossier as the auditor's search lists it (no personal data)."""

    dossier_code: str
    procedure: str
    police_unit: str
    outcome: Outcome
    received_at: datetime
    deadline: datetime | None
    overdue: bool
    closed_at: datetime
    assigned_officer: str | None


class ClosedSearch(Boundary):
    """What narrows the search: a dossier code, a procedure, a unit, the closure's period (Vietnam's days), the
    outcome."""

    code: str | None = None
    procedure: str | None = None
    unit: str | None = None
    since: date | None = None
    until: date | None = None
    outcome: Outcome | None = None


async def _auditable(state: ApiState, principal: Principal, code: str) -> str:
    """The dossier's police unit when the caller may audit it; 404 otherwise (not found and not yours alike)."""
    row = await dossier_row(state.pool, code)
    if row is not None:
        unit, procedure, _ = row
    else:
        try:
            description = await state.dossiers.client.get_workflow_handle(code).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise dossier_not_found(code) from error
            raise
        attributes = description.search_attributes
        found = _first(attributes.get(_UNIT_ATTRIBUTE))
        if found is None:
            raise dossier_not_found(code)
        unit, procedure = found, _first(attributes.get(_PROCEDURE_ATTRIBUTE)) or description.workflow_type
    check_readable(principal, code, unit, procedure)
    return unit


def _first(values: Any) -> str | None:
    return str(values[0]) if values else None


def _entry(row: Any) -> TrailEntry:
    at: datetime = row["at"]
    return TrailEntry(at=at, actor=row["actor"], action=row["action"], detail=row["detail"])


def _superseded(row: Any) -> SupersededEntry:
    return SupersededEntry(**_entry(row).model_dump(), reason=row["superseded"])


def _read(row: Any) -> DossierRead:
    return DossierRead(at=row["at"], subject=row["subject"], officer_id=row["officer_id"], roles=tuple(row["roles"]),
                       channel=row["channel"], operation=row["operation"])


async def search_closed(state: ApiState, principal: Principal, chosen: ClosedSearch, *, limit: int | None = None,
                        cursor: str | None = None) -> Page[ClosedDossier]:
    """One page of the closed dossiers in the caller's scope that ``chosen`` narrows to (the API's and the desk's).
    """
    if chosen.unit is not None:
        check_unit(principal, chosen.unit)
    if chosen.procedure is not None:
        check_procedure(principal, chosen.procedure)
    units = [chosen.unit] if chosen.unit else None if ANY in principal.units else sorted(principal.units)
    procedures = [chosen.procedure] if chosen.procedure else (
        None if ANY in principal.procedures else sorted(principal.procedures))
    if chosen.since and chosen.until and chosen.since > chosen.until:
        raise validation_problem([FieldError(field="since", message="must not be after until",
                                             message_vi="Ngày bắt đầu không được sau ngày kết thúc")])
    size = min(limit or state.settings.page_size, state.settings.max_page_size)
    after_at, after_code = after_time_and_code(cursor)
    rows = await state.pool.fetch(
        _CLOSED_SQL, [chosen.outcome] if chosen.outcome else list(_OUTCOMES), units, procedures,
        chosen.code.strip().upper() if chosen.code else None, _midnight(chosen.since),
        _midnight(chosen.until + timedelta(days=1) if chosen.until else None), after_at, after_code, size + 1)
    items = [ClosedDossier.model_validate(dict(row)) for row in rows[:size]]
    last = items[-1] if len(rows) > size else None
    return Page[ClosedDossier](items=items, next_cursor=encode_cursor([last.closed_at.isoformat(),
                                                                       last.dossier_code]) if last else None)


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), VN_TZ)


async def trail(state: ApiState, principal: Principal, code: str, channel: Channel) -> AuditTrail:
    """The dossier's trail and its reads, this one recorded first (the API's and the desk's)."""
    unit = await _auditable(state, principal, code)
    rows = await state.pool.fetch(_TRAIL_SQL, [code])
    await record_reads(state.pool, principal, [code], channel, "audit_trail")
    reads = await state.pool.fetch(_READS_SQL, code)
    return AuditTrail(dossier_code=code, police_unit=unit, entries=tuple(_entry(r) for r in standing(rows)),
                      superseded=tuple(_superseded(r) for r in rows if r["superseded"] is not None),
                      reads=tuple(_read(r) for r in reads))


async def replay_report(state: ApiState, principal: Principal, code: str, channel: Channel) -> audit.ReplayReport:
    """The replay verdict of the dossier's history (the API's and the desk's); the read recorded."""
    await _auditable(state, principal, code)
    try:
        history, source = await state.dossiers.client.get_workflow_handle(code).fetch_history(), "temporal"
    except RPCError as error:
        history = await archived_history(state.store, code, await _archived(state, code, error))
        source = "archive"
    # Histories recorded in clear, before encryption became mandatory, replay too.
    report = await audit.replay(history, replay_converter_of(state.dossiers.client.data_converter))
    await record_reads(state.pool, principal, [code], channel, "audit_replay")
    return report.model_copy(update={"source": source})


async def _archived(state: ApiState, code: str, error: RPCError) -> str:
    """The exported history's file when Temporal no longer has the workflow (retention): 404 when none was
    exported."""
    if error.status != RPCStatusCode.NOT_FOUND:
        raise error
    sha256 = await archived_file(state.pool, code)
    if sha256 is None:
        raise dossier_not_found(code) from error
    return sha256


@router.get("/dossiers", response_model=Page[ClosedDossier], responses=problem_responses(401, 403, 422),
            operation_id="audit_search",
            summary="The closed dossiers in your scope, newest closure first: by code, procedure, unit, period, "
                    "outcome")
async def audit_search(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_search"))],
    code: Annotated[str | None, Query(min_length=1, max_length=64, description="one dossier code")] = None,
    procedure: Annotated[Procedure | None, Query(description="workflow type")] = None,
    unit: Annotated[str | None, Query(pattern=r"^CA-[0-9]{5}$", description="one of your units")] = None,
    since: Annotated[Day | None, Query(description="closed on or after this day (Vietnam time)")] = None,
    until: Annotated[Day | None, Query(description="closed on or before this day (Vietnam time)")] = None,
    outcome: Outcome | None = None,
    limit: Annotated[int | None, Query(ge=1, description="items per page (default CUTRU_API_PAGE_SIZE)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> Page[ClosedDossier]:
    # A 422 for text a dossier could never carry (control characters): no such dossier.
    chosen = validated(ClosedSearch, code=code, procedure=procedure, unit=unit, since=since, until=until,
                       outcome=outcome)
    return await search_closed(state, principal, chosen, limit=limit, cursor=cursor)


@router.get("/dossiers/{code}/trail", response_model=AuditTrail, responses=_READS, operation_id="audit_trail",
            summary="The dossier's decision trail as the audit table recorded it (who, when, what, why), and who "
                    "read its personal data")
async def audit_trail(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_trail"))],
) -> AuditTrail:
    return await trail(state, principal, code, Channel.API)


@router.get("/dossiers/{code}/replay", response_model=audit.ReplayReport, responses=_READS,
            operation_id="audit_replay",
            summary="Replay the dossier's history against the current code: the determinism verdict and the trail")
async def audit_replay(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_replay"))],
) -> audit.ReplayReport:
    return await replay_report(state, principal, code, Channel.API)


async def _history_json(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """Temporal's history JSON (what ``WorkflowHistory.from_json`` and ``temporal workflow show`` read), written
    event by event as the server's pages arrive."""
    yield b'{"events":['
    first = True
    async for event in events:
        yield (b"" if first else b",") + MessageToJson(event, indent=None).encode()
        first = False
    yield b"]}"


@router.get("/dossiers/{code}/history", responses={200: {"content": {"application/json": {}}, "description": (
            "the history as Temporal's JSON, payloads as stored (encrypted)"), "headers": {HISTORY_SOURCE_HEADER: {
                "description": "temporal, or archive: the history exported when the dossier closed, once "
                               "Temporal's retention has removed the workflow", "schema": {
                                   "type": "string", "enum": ["temporal", "archive"]}}}}, **_READS},
            operation_id="audit_history", response_class=StreamingResponse,
            summary="The dossier's history export, streamed (payloads as Temporal stores them)")
async def audit_history(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_export"))],
) -> StreamingResponse:
    return await history_export(state, principal, code, Channel.API)


async def history_export(state: ApiState, principal: Principal, code: str, channel: Channel) -> StreamingResponse:
    """The history export as a streamed download (the API's and the desk's); the read recorded."""
    await _auditable(state, principal, code)
    events = state.dossiers.client.get_workflow_handle(code).fetch_history_events().__aiter__()
    # The first page is read before answering, so that a failure is a problem answer and not a cut stream.
    body: AsyncIterator[bytes]
    try:
        first = await anext(events)
        body, source = _history_json(_chained(first, events)), "temporal"
    except StopAsyncIteration:
        body, source = _history_json(_chained(None, events)), "temporal"
    except RPCError as error:
        body, source = state.store.read(await _archived(state, code, error)), "archive"
    await record_reads(state.pool, principal, [code], channel, "audit_history")
    return StreamingResponse(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{_file_name(code)}.json"', HISTORY_SOURCE_HEADER: source})


async def _chained(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    if first is not None:
        yield first
        async for event in rest:
            yield event


def _file_name(code: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in code)

