"""``make demo``: the whole service on this machine, end to end, with a readable summary.

Starts the local stack (durable Temporal dev server + PostgreSQL), seeds a synthetic population when the
database is empty, runs a worker process, submits example dossiers built from the seeded people, acts as the
officers (validated update) and the citizens (payment, supplement), waits for every result and prints it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from activities.payment import LocalPaymentGateway
from cutru.client import DossierClient
from cutru.config import PROJECT_ROOT, STATE_DIR, load_settings
from cutru.db.seed import DEMO_COMMUNE_CODE, DEMO_OFFICER_ID, DEMO_PROVINCE_CODE, DEMO_UNIT_CODE, seed
from cutru.stack import start_stack
from domain.models import DecisionKind, DossierOutcome, DossierState, OfficerDecision, PaymentConfirmation, Supplement
from domain.procedures import PROCEDURES

DEMO_PEOPLE = 20_000
DEMO_PROCESSING = {"payment_timeout": "PT2M", "payment_poll_interval": "PT2S", "supplement_timeout": "PT5M"}

_OWNER_ELSEWHERE = """
SELECT p.personal_id, p.full_name, p.birth_date, p.sex, r.address_line
FROM residences r JOIN people p ON p.personal_id = r.owner_id
WHERE r.commune_code = $1 AND r.barred_reason IS NULL AND p.status = 'alive' AND p.full_civil_capacity
  AND p.birth_date < current_date - interval '18 years'
  AND NOT EXISTS (SELECT 1 FROM permanent_residences pr
                  WHERE pr.personal_id = p.personal_id AND pr.status = 'active' AND pr.residence_id = r.residence_id)
  AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.applicant_id = p.personal_id)
  AND (SELECT count(*) FROM residences r2 WHERE r2.commune_code = r.commune_code
       AND lower(r2.address_line) = lower(r.address_line)) = 1
ORDER BY r.residence_id LIMIT $2
"""
_HOUSEHOLD_TO_JOIN = """
SELECT h.head_id, r.owner_id, r.address_line
FROM households h JOIN residences r ON r.residence_id = h.residence_id
WHERE r.commune_code = $1 AND r.barred_reason IS NULL
  AND (SELECT count(*) FROM residences r2 WHERE r2.commune_code = r.commune_code
       AND lower(r2.address_line) = lower(r.address_line)) = 1
ORDER BY h.household_id LIMIT 1
"""
_ADULT_ELSEWHERE = """
SELECT p.personal_id, p.full_name, p.birth_date, p.sex
FROM people p JOIN permanent_residences pr ON pr.personal_id = p.personal_id AND pr.status = 'active'
JOIN residences r ON r.residence_id = pr.residence_id
WHERE r.commune_code <> $1 AND p.status = 'alive' AND p.full_civil_capacity
  AND p.birth_date BETWEEN current_date - interval '60 years' AND current_date - interval '20 years'
  AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.applicant_id = p.personal_id)
ORDER BY p.personal_id LIMIT 1
"""


def _submission(person: asyncpg.Record, address_line: str, details: dict[str, Any],
                consents: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "procedure": "PermanentResidenceRegistration",
        "dossier_code": f"HS-DEMO-{uuid.uuid4().hex[:8].upper()}",
        "received_at": datetime.now(UTC).isoformat(),
        "applicant": {"personal_id": person["personal_id"], "full_name": person["full_name"],
                      "birth_date": person["birth_date"].isoformat(), "sex": person["sex"]},
        "police_unit": DEMO_UNIT_CODE,
        "declaration_truthful": True,
        "consents": consents or [],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "processing": DEMO_PROCESSING,
        "details": {"residence": {"province_code": DEMO_PROVINCE_CODE, "commune_code": DEMO_COMMUNE_CODE,
                                  "address_line": address_line}, **details},
    }


async def _scenarios(conn: asyncpg.Connection) -> list[tuple[str, dict[str, Any], str]]:
    """(what happens, submission, what the officer does) for each example dossier."""
    owners = await conn.fetch(_OWNER_ELSEWHERE, DEMO_COMMUNE_CODE, 4)
    household = await conn.fetchrow(_HOUSEHOLD_TO_JOIN, DEMO_COMMUNE_CODE)
    joiner = await conn.fetchrow(_ADULT_ELSEWHERE, DEMO_COMMUNE_CODE)
    if len(owners) < 4 or household is None or joiner is None:
        raise SystemExit("the seeded population has too few demo candidates; run `make clean demo` to reseed")
    consents = [{"role": "household_head", "personal_id": household["head_id"]}]
    if household["owner_id"] and household["owner_id"] != household["head_id"]:
        consents.append({"role": "owner", "personal_id": household["owner_id"]})
    return [
        ("own residence, approved, fee paid", _submission(owners[0], owners[0]["address_line"],
                                                          {"basis": "own_residence"}), "approve"),
        ("joins a relative's household", _submission(joiner, household["address_line"],
                                                     {"basis": "join_relative", "relation_to_head": "sibling"},
                                                     consents), "approve"),
        ("supplement requested, then approved", _submission(owners[1], owners[1]["address_line"],
                                                            {"basis": "own_residence"}), "supplement"),
        ("rejected by the officer", _submission(owners[2], owners[2]["address_line"],
                                                {"basis": "own_residence"}), "reject"),
        ("refused: rental contract not certified", _submission(owners[3], owners[3]["address_line"],
                                                               {"basis": "rented_or_borrowed"}), "none"),
    ]


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 60) -> None:
    stop = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > stop:
            raise SystemExit("a demo dossier did not move on; see .cutru/worker.log")
        await asyncio.sleep(0.2)


async def _play(dossiers: DossierClient, gateway: LocalPaymentGateway, submission: dict[str, Any],
                action: str) -> tuple[DossierOutcome, float]:
    code = submission["dossier_code"]
    started = time.monotonic()
    await dossiers.submit(submission)

    async def in_state(*states: DossierState) -> bool:
        return (await dossiers.status(code)).state in states

    if action != "none":
        await _until(lambda: in_state(DossierState.AWAITING_DECISION, DossierState.REFUSED))
        if await in_state(DossierState.REFUSED):
            action = "none"
    if action == "supplement":
        await dossiers.decide(code, OfficerDecision(officer_id=DEMO_OFFICER_ID,
                                                    decision=DecisionKind.REQUEST_SUPPLEMENT,
                                                    missing_items=("Giấy chứng nhận quyền sở hữu nhà ở",)))
        await _until(lambda: in_state(DossierState.AWAITING_SUPPLEMENT))
        await dossiers.supplement(code, Supplement(provided_items=("Giấy chứng nhận quyền sở hữu nhà ở",)))
        await _until(lambda: in_state(DossierState.AWAITING_DECISION))
        action = "approve"
    if action == "approve":
        await dossiers.decide(code, OfficerDecision(officer_id=DEMO_OFFICER_ID, decision=DecisionKind.APPROVE))
        await _until(lambda: in_state(DossierState.AWAITING_PAYMENT))
        order = await gateway.pay(code)
        await dossiers.confirm_payment(code, PaymentConfirmation(order_id=order.order_id,
                                                                 amount_vnd=order.amount_vnd))
    elif action == "reject":
        await dossiers.decide(code, OfficerDecision(officer_id=DEMO_OFFICER_ID, decision=DecisionKind.REJECT,
                                                    reason="Chỗ ở đang có tranh chấp quyền sở hữu"))
    outcome = await dossiers.result(code)
    return outcome, time.monotonic() - started


async def _demo() -> None:
    stack = await start_stack()
    print(f"Temporal {stack.temporal_address} (Web UI {stack.temporal_ui}), PostgreSQL "
          f"{'embedded' if stack.embedded_postgres else 'from DATABASE_URL'}")
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
    if not await pool.fetchval("SELECT count(*) FROM people"):
        report = await seed(stack.database_url, people=DEMO_PEOPLE, seed=1, progress=True)
        print(f"seeded {report.people} people in {report.total_seconds:.1f}s")
    log = open(STATE_DIR / "worker.log", "ab")  # noqa: SIM115 - handed to the worker process
    worker = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "worker.py")], stdout=log, stderr=log,
                              env={**os.environ, "CUTRU_LOG_LEVEL": "WARNING"})
    try:
        dossiers = await DossierClient.connect(load_settings())
        async with pool.acquire() as conn:
            scenarios = await _scenarios(conn)
        results = await asyncio.gather(*(_play(dossiers, LocalPaymentGateway(pool), s, a) for _, s, a in scenarios))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        await pool.close()
    print()
    print(f"{'dossier':<18} {'procedure':<28} {'scenario':<40} {'status':<10} {'fee VND':>8} "
          f"{'result':<7} {'seconds':>7}")
    for (what, _, _), (outcome, seconds) in zip(scenarios, results, strict=True):
        print(f"{outcome.dossier_code:<18} {PROCEDURES[outcome.procedure].vietnamese_name:<28} {what:<40} "
              f"{outcome.state.value:<10} {outcome.fee_paid_vnd:>8,} {','.join(outcome.documents):<7} {seconds:>7.1f}")
    print()
    print(f"Inspect each dossier in the Web UI: {stack.temporal_ui}/namespaces/{stack.namespace}/workflows")
    print("Documents: .cutru/documents/<dossier code>/; stop the stack with `make down`.")


def main() -> None:
    asyncio.run(_demo())


if __name__ == "__main__":
    main()
