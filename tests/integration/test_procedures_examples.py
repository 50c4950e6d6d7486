"""Every file under examples/ runs to completion against the world the demo prepares, twice in a row: what
``make demo`` does, on the time-skipping test server with a real worker and the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from cutru_local.demo import EXAMPLE_PEOPLE, instantiate, load_examples, prepare_examples

from domain.calendar import local_date
from domain.models import DossierState
from domain.procedures.catalogue import PROCEDURES
from tests.factories import Desk, procedure_desk


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


async def run_all_examples(desk: Desk) -> dict[str, DossierState]:
    now = await desk.now()
    async with desk.pool.acquire() as conn:
        await prepare_examples(conn, local_date(now))
    outcomes = {}
    for procedure, example in load_examples().items():
        raw = instantiate(example, now)
        await desk.start(raw)
        if PROCEDURES[procedure].officer_review:
            await desk.approve(raw["dossier_code"])
        if PROCEDURES[procedure].has_fee:
            await desk.pay(raw["dossier_code"])
        outcome = await desk.result(raw["dossier_code"])
        outcomes[procedure.value] = outcome.state
        assert outcome.state == DossierState.COMPLETED, (procedure, outcome.refusals)
    return outcomes


async def test_every_example_completes_and_can_be_filed_again(desk: Desk, pool: asyncpg.Pool):
    first = await run_all_examples(desk)
    assert len(first) == len(PROCEDURES)
    # The second run needs the world put back: the deceased re-registered, the household whole again, …
    assert await run_all_examples(desk) == first
    head = await pool.fetchval("SELECT h.head_id FROM households h JOIN household_members m USING (household_id)"
                               " WHERE m.personal_id = $1", EXAMPLE_PEOPLE["hanh"].personal_id)
    assert head == EXAMPLE_PEOPLE["hanh"].personal_id  # the adjustment example made her head, again
