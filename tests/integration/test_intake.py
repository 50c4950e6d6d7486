"""Counter intake through the API: an officer files a dossier for a citizen at the station; it runs as an online
dossier with channel assisted and the filing officer from the token (never from the body), within the officer's
units only; a portal cannot file an assisted dossier."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from cutru.platform.config import PROJECT_ROOT
from domain.kinds import Procedure
from domain.procedures.catalogue import parse_submission
from domain.rulesets import fee_for
from tests.api_fixtures import bearer
from tests.integration.test_api import assert_problem
from tests.integration.test_api_desk import DEMO_UNIT, OFFICER, other_unit, token
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for
from tests.oidc import OidcProvider


def counter_body(raw: dict[str, Any]) -> dict[str, Any]:
    """What the officer sends: the submission without what the counter sets, and a forged officer to ignore."""
    body = {key: value for key, value in raw.items() if key not in ("dossier_code", "received_at")}
    return body | {"channel": "online", "filed_by": "CB-99999-99"}


def written(key: str | None = None) -> dict[str, str]:
    return {"Idempotency-Key": key or str(uuid.uuid4())}


async def test_an_officer_files_an_assisted_dossier_recorded_with_their_id(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool) -> None:
    raw = await own_residence_dossier(pool)
    headers = token(oidc_provider, OFFICER) | written()
    answer = await api_client.post("/v1/intake", json=counter_body(raw), headers=headers)
    assert answer.status_code == 201, answer.text
    code = answer.json()["dossier_code"]
    assert code.startswith("TQ.00070-") and answer.json()["police_unit"] == DEMO_UNIT

    async def listed() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code))

    await wait_for(listed)
    row = await pool.fetchrow("SELECT channel, filed_by, applicant_id FROM dossiers WHERE dossier_code = $1", code)
    assert dict(row) == {"channel": "assisted", "filed_by": OFFICER, "applicant_id": raw["applicant"]["personal_id"]}
    again = await api_client.post("/v1/intake", json=counter_body(raw), headers=headers)  # the same key: replayed
    assert again.json()["dossier_code"] == code and again.headers["Idempotent-Replayed"] == "true"


def test_an_assisted_dossier_pays_the_online_fee() -> None:
    received = date(2026, 11, 20)
    for procedure in (Procedure.PERMANENT_RESIDENCE_REGISTRATION, Procedure.TEMPORARY_RESIDENCE_REGISTRATION):
        assert fee_for(procedure, "assisted", received) == fee_for(procedure, "online", received) \
            < fee_for(procedure, "in_person", received)


async def test_an_officer_files_only_for_their_units(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool) -> None:
    _, stranger, _ = await other_unit(pool)
    raw = await own_residence_dossier(pool)
    before = await pool.fetchval("SELECT count(*) FROM dossiers WHERE channel = 'assisted'")
    refused = await api_client.post("/v1/intake", json=counter_body(raw),
                                    headers=token(oidc_provider, stranger) | written())
    assert_problem(refused, 403, "forbidden")
    assert await pool.fetchval("SELECT count(*) FROM dossiers WHERE channel = 'assisted'") == before


async def test_bad_fields_are_named_in_vietnamese(api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
                                                  pool: asyncpg.Pool) -> None:
    body = counter_body(await own_residence_dossier(pool))
    body["applicant"] = body["applicant"] | {"personal_id": "12345"}
    answer = await api_client.post("/v1/intake", json=body, headers=token(oidc_provider, OFFICER) | written())
    problem = assert_problem(answer, 422, "invalid_request")
    assert [e["field"] for e in problem["errors"]] == ["applicant.personal_id"]
    assert problem["errors"][0]["message_vi"]


async def test_a_portal_cannot_file_an_assisted_dossier(api_client: httpx.AsyncClient, portal_token: str,
                                                        pool: asyncpg.Pool) -> None:
    raw = await own_residence_dossier(pool) | {"channel": "assisted", "filed_by": OFFICER}
    answer = await api_client.post("/v1/dossiers", json=raw, headers=bearer(portal_token) | written())
    problem = assert_problem(answer, 422, "invalid_request")
    assert [e["field"] for e in problem["errors"]] == ["channel"]
    assert await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", raw["dossier_code"]) == 0


def test_assisted_goes_with_the_filing_officer_and_old_payloads_stay_online() -> None:
    # An example as recorded before the channel assisted existed: no filed_by, and here no channel either.
    raw = {k: v for k, v in json.loads((PROJECT_ROOT / "examples" / "PermanentResidenceRegistration.json")
                                       .read_text(encoding="utf-8")).items() if k != "channel"}
    assert parse_submission(raw).channel == "online" and parse_submission(raw).filed_by is None
    for wrong in ({"channel": "assisted"}, {"filed_by": OFFICER}, {"channel": "in_person", "filed_by": OFFICER}):
        with pytest.raises(ValidationError, match="filed_by"):
            parse_submission(raw | wrong)
    assert parse_submission(raw | {"channel": "assisted", "filed_by": OFFICER}).filed_by == OFFICER
