"""The auditors' endpoints: a dossier's decision trail, its replay verdict, and its history export.

An auditor's token covers every unit (``police_units: *``) or some; a dossier outside them is 404, as one that does
not exist. The dossier's unit comes from the read model, or, for what the read model does not list (a stay
register), from the workflow's ``PoliceUnit`` search attribute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from google.protobuf.json_format import MessageToJson
from temporalio.service import RPCError, RPCStatusCode

from cutru.api.client import AuditTrail
from cutru.api.problems import dossier_not_found, problem_responses
from cutru.api.security import check_readable, permit
from cutru.api.state import ApiState, api_state
from cutru.clients import audit
from cutru.clients.officer import dossier_row
from cutru.platform.codec import replay_converter_of
from cutru.platform.config import SEARCH_ATTRIBUTES
from cutru.platform.oidc import Principal
from domain.models import TrailEntry

router = APIRouter(prefix="/v1/audit", tags=["auditors"])

_READS = problem_responses(401, 403, 404)
_UNIT_ATTRIBUTE, _PROCEDURE_ATTRIBUTE = "PoliceUnit", "DossierProcedure"
assert {_UNIT_ATTRIBUTE, _PROCEDURE_ATTRIBUTE} <= set(SEARCH_ATTRIBUTES)

# The audit table's rows of one dossier as trail entries: the entry's own time (details.at) where it was recorded.
_TRAIL_SQL = """
SELECT coalesce((details->>'at')::timestamptz, at) AS at, actor, action, coalesce(details->>'detail', '') AS detail
FROM audit_events WHERE dossier_code = $1
ORDER BY coalesce((details->>'at')::timestamptz, at), event_id
"""


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


@router.get("/dossiers/{code}/trail", response_model=AuditTrail, responses=_READS, operation_id="audit_trail",
            summary="The dossier's decision trail as the audit table recorded it: who, when, what, why")
async def audit_trail(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_trail"))],
) -> AuditTrail:
    unit = await _auditable(state, principal, code)
    rows = await state.pool.fetch(_TRAIL_SQL, code)
    return AuditTrail(dossier_code=code, police_unit=unit, entries=tuple(_entry(r) for r in rows))


@router.get("/dossiers/{code}/replay", response_model=audit.ReplayReport, responses=_READS,
            operation_id="audit_replay",
            summary="Replay the dossier's history against the current code: the determinism verdict and the trail")
async def audit_replay(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_replay"))],
) -> audit.ReplayReport:
    await _auditable(state, principal, code)
    history = await state.dossiers.client.get_workflow_handle(code).fetch_history()
    # Histories recorded in clear, before encryption became mandatory, replay too.
    return await audit.replay(history, replay_converter_of(state.dossiers.client.data_converter))


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
            "the history as Temporal's JSON, payloads as stored (encrypted)")}, **_READS},
            operation_id="audit_history", response_class=StreamingResponse,
            summary="The dossier's history export, streamed (payloads as Temporal stores them)")
async def audit_history(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("audit_export"))],
) -> StreamingResponse:
    await _auditable(state, principal, code)
    events = state.dossiers.client.get_workflow_handle(code).fetch_history_events().__aiter__()
    # The first page is read before answering, so that a failure is a problem answer and not a cut stream.
    try:
        first = await anext(events)
    except StopAsyncIteration:
        first = None
    return StreamingResponse(_history_json(_chained(first, events)), media_type="application/json",
                             headers={"Content-Disposition": f'attachment; filename="{_file_name(code)}.json"'})


async def _chained(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    if first is not None:
        yield first
        async for event in rest:
            yield event


def _file_name(code: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in code)

