"""The fault campaign of ``make chaos`` with small numbers, plus the races it is built to catch, made deterministic.

The campaign runs on its own private stack (``chaos.stack``): the suite's shared Temporal server and database are
never killed. It fails when any dossier is lost, duplicated or stuck, the read model or the audit table disagrees
with a workflow, a document or an attachment no longer matches its SHA-256, or a payload went to Temporal unencrypted.
"""

from __future__ import annotations

import asyncpg
import pytest
from temporalio.client import Client

from activities.payment import LocalPaymentGateway
from chaos.campaign import CampaignConfig, run_campaign
from chaos.faults import CHEAP, FaultKind
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState, OfficerDecision, Withdrawal
from tests.factories import head_signs, new_person, new_place, registration
from tests.integration.test_permanent_registration import wait_state

pytestmark = pytest.mark.timeout(240)


async def test_small_campaign_loses_doubles_and_strands_nothing() -> None:
    """A few dossiers and one fault of each kind that needs no rolling restart of the workers."""
    config = CampaignConfig(
        seed=11, dossiers=16, faults_per_kind=1, kinds=tuple(k for k in FaultKind if k in CHEAP), competing=0,
        load_seconds=4, fault_seconds=6, drain_seconds=120, stall_seconds=45, people=300, units=2, progress=False,
    )
    report = await run_campaign(config)
    table = report.table()
    print(table)
    assert report.submitted == config.dossiers, table
    assert report.faults_injected == report.faults_planned, table
    assert len(report.flooded) == 1, table
    v = report.verification
    assert v.documents_checked > 0 and v.attachments_checked > 0 and v.payloads_checked > 0, table
    assert set(v.payload_keys_seen) == {"chaos-k0"}, table  # no rotation in this run: the first key throughout
    assert dict(report.figures()) == {**{label: 0 for label, _ in report.figures()}, "fault kinds": len(CHEAP)}, table
    outbox = report.outbox  # e-mails and events went out while their servers were killed, once each
    assert outbox.notifications_sent > 0 and outbox.events_delivered > 0, table
    assert report.ok, table


async def test_a_withdrawal_racing_the_payment_never_keeps_the_fee_of_a_withdrawn_dossier(
    client: Client, settings: Settings, worker: object, pool: asyncpg.Pool
) -> None:
    """The citizen pays on the portal, then withdraws before the gateway's callback reaches the dossier.

    ``_collect_fee`` wakes on the withdrawal, asks the gateway to cancel the order — which is already paid, so
    nothing is cancelled — and ends the dossier WITHDRAWN with ``fee_paid_vnd=0`` while the payments table keeps a
    paid fee: the citizen is charged for a dossier that is never processed. Either outcome is acceptable when it is
    consistent: completed with the fee, or withdrawn with nothing paid.
    """
    dossiers = DossierClient(client, settings.task_queue)
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    officer = (await dossiers.status(code)).assigned_officer
    assert officer is not None
    await dossiers.decide(code, OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE))
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    order = await LocalPaymentGateway(pool).pay(code)  # paid at the gateway; its callback is still on its way
    assert order.status == "paid"
    await dossiers.withdraw(code, Withdrawal(reason="Gia đình đổi ý", applicant_id=person.personal_id))

    outcome = await dossiers.result(code)
    paid = await pool.fetchval("SELECT count(*) FROM payments WHERE dossier_code = $1 AND status = 'paid'", code)
    assert (outcome.state, outcome.fee_paid_vnd, paid) in {
        (DossierState.COMPLETED, 10_000, 1), (DossierState.WITHDRAWN, 0, 0)
    }, f"dossier ended {outcome.state.value} with fee_paid_vnd={outcome.fee_paid_vnd}, paid orders: {paid}"
