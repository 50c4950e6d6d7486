"""Personal data never reaches the Temporal server in clear; the auditor who holds the key still replays."""

from __future__ import annotations

import asyncpg
from temporalio.client import Client

from cutru.clients.audit import replay
from cutru.clients.client import DossierClient
from cutru.platform.codec import KeyRing, data_converter
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import head_signs, pay
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from worker import build_worker


async def test_history_on_the_server_holds_no_personal_data(client: Client, settings: Settings, pool: asyncpg.Pool):
    keys = KeyRing.generate("test-2026")
    secure = await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                  data_converter=data_converter(keys))
    dossiers = DossierClient(secure, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    personal_id = submission["applicant"]["personal_id"]
    name = submission["applicant"]["full_name"]
    async with build_worker(secure, settings, pool):
        await dossiers.submit(submission)
        await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
        await dossiers.decide(code, OfficerDecision(officer_id="CB-00070-01", decision=DecisionKind.APPROVE))
        await head_signs(dossiers, pool, code)
        await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
        await pay(dossiers, pool, code)
        assert (await dossiers.result(code)).state == DossierState.COMPLETED

    # What the server stores, read without the key.
    stored = await client.get_workflow_handle(code).fetch_history()
    raw = b"".join(event.SerializeToString() for event in stored.events)
    for secret in (personal_id, name, submission["details"]["residence"]["address_line"]):
        assert secret.encode() not in raw, f"{secret!r} is stored in clear"
    assert b"binary/encrypted" in raw

    audited = await replay(stored, data_converter(keys))
    assert audited.deterministic
    assert name in audited.messages[0].detail

    rotated = keys.rotate("test-2027")
    assert (await replay(stored, data_converter(rotated))).deterministic  # old key still in the ring
