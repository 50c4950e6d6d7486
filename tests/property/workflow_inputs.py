"""Helpers of the workflow-level bad-input tests: raw payloads, drawn inputs, and the "stuck" verdict."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, TypeVar

from hypothesis import given
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import CompositePayloadConverter, EncodingPayloadConverter

from tests.property.tally import fuzz_settings

T = TypeVar("T")
MAX_EVENTS = 400  # far more than a dossier makes in the seconds these tests watch it
_BENIGN = {WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
           WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE}


@dataclasses.dataclass(frozen=True)
class RawPayload:
    """Bytes sent as they are, the way a client in another language (or a broken one) can send them."""

    data: bytes
    encoding: bytes = b"json/plain"


class _RawConverter(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return "test/raw"  # the key of this converter only: the payload carries the encoding it was given

    def to_payload(self, value: Any) -> Payload | None:
        if isinstance(value, RawPayload):
            return Payload(metadata={"encoding": value.encoding}, data=value.data)
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise NotImplementedError("only sends")


class _RawFirst(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(_RawConverter(), *PydanticPayloadConverter().converters.values())


def raw_client(client: Client) -> Client:
    """The same connection, with a converter that also sends ``RawPayload`` bytes untouched."""
    converter = dataclasses.replace(pydantic_data_converter, payload_converter_class=_RawFirst)
    return Client(client.service_client, namespace=client.namespace, data_converter=converter)


RAW_PAYLOADS: tuple[RawPayload, ...] = (
    RawPayload(b'{"dossier_code": "\\ud800"}'),  # a lone surrogate: legal JSON text, no Python str can hold it
    RawPayload(b"[" * 400 + b"]" * 400),  # nesting deeper than the JSON parser's limit
    RawPayload(b"\xff\xfe\x00 not utf-8"),
    RawPayload(b""),
    RawPayload(b"null"),
    RawPayload(b"1e999"),
    RawPayload(b'"\\u0000"'),
    RawPayload(b'{"a": 1, "a": 2}'),
    RawPayload(b"{}", encoding=b"binary/made-up"),
    RawPayload(b"\x08\x96\x01", encoding=b"binary/protobuf"),
)


def draw(strategy: st.SearchStrategy[T], n: int) -> list[T]:
    """``n`` inputs from ``strategy`` (derandomized unless exploring), to be sent in a batch to real workflows."""
    drawn: list[T] = []

    @fuzz_settings(max_examples=n)
    @given(strategy)
    def collect(value: T) -> None:
        drawn.append(value)

    collect()
    return drawn


async def stuck_reasons(handle: WorkflowHandle[Any, Any], *, history: bool = True) -> list[str]:
    """Why this workflow is stuck, if it is: a workflow task failing, an activity failing again and again, or a
    history growing without bound. ``history=False`` skips reading the history (cheap polling)."""
    description = await handle.describe()
    raw = description.raw_description
    reasons = []
    if raw.HasField("pending_workflow_task") and raw.pending_workflow_task.attempt > 1:
        reasons.append(f"workflow task on attempt {raw.pending_workflow_task.attempt}")
    for activity in raw.pending_activities:
        if activity.attempt >= 3:
            reasons.append(f"{activity.activity_type.name} on attempt {activity.attempt}: "
                           f"{activity.last_failure.message[:160]}")
    if description.history_length > MAX_EVENTS:
        reasons.append(f"history of {description.history_length} events and growing")
    if history:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                attributes = event.workflow_task_failed_event_attributes
                if attributes.cause not in _BENIGN:
                    reasons.append(f"workflow task failed: {attributes.failure.message[:160]}")
    if description.status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
        reasons.append(f"closed as {description.status.name if description.status else '?'}")
    return reasons


async def settle(handles: list[WorkflowHandle[Any, Any]], timeout: float) -> dict[str, list[str]]:
    """Wait until each workflow is closed or found stuck; return the stuck ones with their reasons.

    Polls with ``describe`` only; the history of each workflow is read once, when it has closed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    open_handles = list(handles)
    stuck: dict[str, list[str]] = {}
    while open_handles:
        still_open = []
        for handle in open_handles:
            description = await handle.describe()
            closed = description.status != WorkflowExecutionStatus.RUNNING
            reasons = await stuck_reasons(handle, history=closed)
            if reasons:
                stuck[handle.id] = reasons
            elif not closed:
                still_open.append(handle)
        open_handles = still_open
        if open_handles and loop.time() > deadline:
            for handle in open_handles:
                stuck[handle.id] = await stuck_reasons(handle) or ["still open, with no failure to show for it"]
            break
        if open_handles:
            await asyncio.sleep(0.5)
    return stuck
