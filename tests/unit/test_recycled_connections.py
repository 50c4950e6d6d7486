"""Calls cut off as the Temporal frontend recycles a connection (its maximum age): they end CANCELLED, which the
SDK's core does not retry, and the helpers ask again; other refusals still reach the caller. The engine's service is
a stub here, since a real server recycles connections only every five minutes; the describe's answer on a real
server is `tests/integration/test_worker_roles.py`'s."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from temporalio.api.taskqueue.v1 import PollerInfo
from temporalio.api.workflowservice.v1 import DescribeTaskQueueResponse
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cutru.platform.temporal import task_queue_pollers


class Service:
    """Answers each describe with the next of ``answers``: an error is raised, a response returned."""

    def __init__(self, *answers: RPCError | DescribeTaskQueueResponse) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def describe_task_queue(self, request: Any, timeout: Any = None) -> DescribeTaskQueueResponse:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, RPCError):
            raise answer
        return answer


def client(service: Service) -> Client:
    return cast(Client, SimpleNamespace(namespace="default", workflow_service=service))


POLLING = DescribeTaskQueueResponse(pollers=[PollerInfo(identity="11@host"), PollerInfo(identity="12@host")])


async def test_a_describe_cut_off_by_a_recycled_connection_is_asked_again() -> None:
    service = Service(RPCError("operation was canceled", RPCStatusCode.CANCELLED, b""), POLLING)
    assert await task_queue_pollers(client(service), "q") == {"11@host", "12@host"}
    assert service.calls == 2


async def test_other_refusals_reach_the_caller() -> None:
    service = Service(RPCError("no such namespace", RPCStatusCode.NOT_FOUND, b""), POLLING)
    with pytest.raises(RPCError):
        await task_queue_pollers(client(service), "q")
    assert service.calls == 1
