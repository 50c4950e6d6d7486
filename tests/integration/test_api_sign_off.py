"""The head's sign-off through the API: the head's list of proposals, sign and return as the token's officer,
checked against the roster at that moment, signed, idempotent; an officer who is not a head, or who proposed the
approval, is refused with a reason in both languages and nothing reaches the dossier."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from temporalio.client import Client

from cutru.clients.client import DossierClient
from domain.models import DossierState, TrailAction
from tests.integration.test_api import assert_problem
from tests.integration.test_api_desk import (  # noqa: F401 (fixtures)
    OFFICER,
    SUPERVISOR,
    dossiers,
    history_length,
    token,
    waiting,
)
from tests.integration.test_permanent_registration import wait_state
from tests.oidc import OidcProvider

HEAD = SUPERVISOR  # the seed makes each unit's supervisor its head


async def propose(api: httpx.AsyncClient, provider: OidcProvider, client: DossierClient, code: str) -> None:
    approved = await api.post(f"/v1/desk/dossiers/{code}/decision", json={"decision": "approve"},
                              headers=token(provider, OFFICER))
    assert approved.status_code == 200, approved.text
    await wait_state(client, code, DossierState.AWAITING_SIGN_OFF)


async def test_the_head_returns_then_signs_a_proposal(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, client: Client, dossiers: DossierClient,  # noqa: F811
        pool: asyncpg.Pool, waiting: str):  # noqa: F811 (fixtures)
    await propose(api_client, oidc_provider, dossiers, waiting)
    as_head, as_officer = token(oidc_provider, HEAD), token(oidc_provider, OFFICER)
    path = f"/v1/desk/dossiers/{waiting}/sign-off"

    listed = await api_client.get("/v1/desk/sign-offs", headers=as_head)
    assert listed.status_code == 200, listed.text
    assert [(i["dossier_code"], i["status"]) for i in listed.json()["items"] if i["dossier_code"] == waiting] == [
        (waiting, "awaiting_sign_off")]
    not_head = assert_problem(await api_client.get("/v1/desk/sign-offs", headers=as_officer), 403, "forbidden")
    assert "Trưởng Công an" in not_head["detail_vi"]

    before = await history_length(client, waiting)
    no_reason = await api_client.post(path, json={"decision": "return"}, headers=as_head)
    problem = assert_problem(no_reason, 422, "invalid_request")
    assert "a return needs a reason" in problem["errors"][0]["message"]
    assert_problem(await api_client.post(path, json={"decision": "sign"}, headers=as_officer), 403, "forbidden")
    assert await history_length(client, waiting) == before

    returned = await api_client.post(path, json={"decision": "return", "reason": "Cần xác minh chỗ ở"},
                                     headers=as_head)
    assert returned.status_code == 200, returned.text
    await wait_state(dossiers, waiting, DossierState.AWAITING_DECISION)
    await propose(api_client, oidc_provider, dossiers, waiting)

    key = {"Idempotency-Key": str(uuid.uuid4())}
    signed = await api_client.post(path, json={"decision": "sign"}, headers=as_head | key)
    assert signed.status_code == 200, signed.text
    assert signed.json()["decision"] == "sign"
    again = await api_client.post(path, json={"decision": "sign"}, headers=as_head | key)
    assert again.json() == signed.json() and again.headers["idempotent-replayed"] == "true"
    await wait_state(dossiers, waiting, DossierState.AWAITING_PAYMENT)  # signed: the fee is asked for
    trail = [(e.actor, e.action) for e in (await dossiers.status(waiting)).trail]
    assert [t for t in trail if t[1] in (TrailAction.PROPOSED, TrailAction.RETURNED, TrailAction.SIGNED_OFF)] == [
        (OFFICER, TrailAction.PROPOSED), (HEAD, TrailAction.RETURNED), (OFFICER, TrailAction.PROPOSED),
        (HEAD, TrailAction.SIGNED_OFF)]

    # Nothing is waiting any more: a late sign-off is refused with the dossier's reason.
    late = assert_problem(await api_client.post(path, json={"decision": "sign"}, headers=as_head), 409,
                          "sign_off_refused")
    assert "not waiting for the head's sign-off" in late["detail_en"]


async def test_the_signer_is_checked_in_the_roster_at_sign_time(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, client: Client, dossiers: DossierClient,  # noqa: F811
        pool: asyncpg.Pool, waiting: str):  # noqa: F811 (fixtures)
    await propose(api_client, oidc_provider, dossiers, waiting)
    path = f"/v1/desk/dossiers/{waiting}/sign-off"
    as_head, as_officer = token(oidc_provider, HEAD), token(oidc_provider, OFFICER)
    before = await history_length(client, waiting)
    # The proposer, made a deputy authorised to sign, still cannot sign their own proposal: the dossier says no.
    await pool.execute("UPDATE officers SET position = 'deputy_head', signs_for_head = true WHERE officer_id = $1",
                       OFFICER)
    try:
        own = assert_problem(await api_client.post(path, json={"decision": "sign"}, headers=as_officer), 409,
                             "sign_off_refused")
    finally:
        await pool.execute("UPDATE officers SET position = 'officer', signs_for_head = false WHERE officer_id = $1",
                           OFFICER)
    assert "cannot sign" in own["detail_en"]
    # A head who left the post cannot sign with the token they still hold.
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = $1", HEAD)
    try:
        gone = assert_problem(await api_client.post(path, json={"decision": "sign"}, headers=as_head), 403,
                              "forbidden")
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = $1", HEAD)
    assert "not an active head" in gone["detail_en"]
    assert await history_length(client, waiting) == before
    assert (await dossiers.status(waiting)).state == DossierState.AWAITING_SIGN_OFF
