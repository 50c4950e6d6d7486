"""Citizens are told at every step, once, by e-mail over a real SMTP server (aiosmtpd) or SMS through the local
gateway process, delivered by the outbox's dispatchers on the real Temporal dev server."""

from __future__ import annotations

import email
import json
import mailbox
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.channels import HttpSmsGateway, SmsConfig, SmtpConfig, SmtpMailer
from activities.contracts import AuditBatch, AuditRecord
from activities.dossier import DossierActivities
from activities.notify import Outbox
from activities.postal import HttpPostalService, PostalConfig
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState, OfficerDecision, Supplement, TrailAction, TrailEntry
from tests.api_fixtures import bearer
from tests.factories import head_signs, pay
from tests.integration.test_permanent_registration import OFFICER, approve, own_residence_dossier, wait_state
from tests.notify_fixtures import POSTAL_TOKEN, QUICK, SMS_KEYS, carrier, dispatching, eventually, mail_server
from tests.oidc import OidcProvider, client_credentials_token, login_token

DOMAIN = "dichvucong.test"


def sent_by(code: str, step: str, channel: str = "email") -> str:
    return f"<{code}.{step}.{channel}@{DOMAIN}>"


async def test_each_step_arrives_once_and_a_restarted_mail_server_loses_nothing(
        client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    submission["contact"] = {"channel": "email", "email": "tuyet.nguyen@example.vn"}
    async with mail_server(tmp_path / "maildir") as smtp:
        outbox = Outbox(pool, mailer=SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port,
                                                           sender=f"no-reply@{DOMAIN}")), backoff=QUICK)
        async with dispatching(client, settings, pool, outbox, ["email"]):
            dossiers = DossierClient(client, settings.task_queue)

            steps: dict[str, str] = {}

            async def arrived(kind: str) -> None:
                async def check() -> bool:
                    step = await pool.fetchval("SELECT step FROM notifications WHERE dossier_code = $1 AND kind = $2",
                                               code, kind)
                    steps[kind] = step
                    return step is not None and sent_by(code, step) in smtp.message_ids()
                await eventually(check, f"the {kind} e-mail")

            await dossiers.submit(submission)
            await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
            await arrived("accepted")
            await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.REQUEST_SUPPLEMENT,
                                                        missing_items=("Hợp đồng thuê nhà có công chứng",)))
            await arrived("supplement_requested")

            # The mail server goes down: the fee's message waits, retried, and is sent once it is back.
            smtp.stop()
            await dossiers.supplement(code, Supplement(provided_items=("Hợp đồng thuê nhà có công chứng",)))
            await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
            await dossiers.decide(code, approve())
            await head_signs(dossiers, pool, code)
            await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)

            async def retried() -> bool:
                row = await pool.fetchrow("SELECT status, attempts, last_error FROM notifications"
                                          " WHERE dossier_code = $1 AND step = 'fee_due'", code)
                return row is not None and row["attempts"] >= 2 and row["status"] == "pending"
            await eventually(retried, "the fee's message retried while the server is down")
            smtp.start()
            await arrived("fee_due")
            await pay(dossiers, pool, code)
            assert (await dossiers.result(code)).state == DossierState.COMPLETED
            await arrived("completed")

        sent = smtp.message_ids()
        mine = {k: v for k, v in sent.items() if code in k}
        assert mine == {sent_by(code, step): 1 for step in steps.values()} and len(mine) == 4
        assert steps["fee_due"] == "fee_due" and steps["completed"] == "9999-closed"
        messages = {"".join(str(m["Message-ID"]).split()): email.message_from_bytes(m.as_bytes(), policy=default)
                    for m in mailbox.Maildir(smtp.maildir, create=False)}
        receipt = messages[sent_by(code, steps["accepted"])]
        assert receipt["Subject"] == f"Đã tiếp nhận hồ sơ {code}" and receipt["To"] == "tuyet.nguyen@example.vn"
        deadline = await pool.fetchval("SELECT deadline FROM dossiers WHERE dossier_code = $1", code)
        body = receipt.get_content()
        assert "Ngày hẹn trả kết quả: " in body and deadline.strftime("%Y") in body
        supplement = messages[sent_by(code, steps["supplement_requested"])].get_content()
        assert "Hợp đồng thuê nhà có công chứng" in supplement
        fee = messages[sent_by(code, "fee_due")].get_content()
        assert f"/ho-so/{code}/thanh-toan" in fee and "10.000 đồng" in fee
        assert "CT08" in messages[sent_by(code, "9999-closed")].get_content()
        states = await pool.fetch("SELECT status, count(*) FROM notifications WHERE dossier_code = $1"
                                  " GROUP BY status", code)
        assert {r["status"]: r["count"] for r in states} == {"sent": 4}


async def test_an_sms_tells_the_refusal_without_the_personal_id(
        client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path):
    submission = await own_residence_dossier(pool)
    code, personal_id = submission["dossier_code"], submission["applicant"]["personal_id"]
    submission["contact"] = {"channel": "sms", "phone": "0912345678"}
    async with carrier("sms", tmp_path / "sms.jsonl") as gateway:
        sms = HttpSmsGateway(SmsConfig(url=gateway.url, api_key=SMS_KEYS["CUTRU_SMS_API_KEY"],
                                       secret_key=SecretStr(SMS_KEYS["CUTRU_SMS_SECRET_KEY"])))
        async with dispatching(client, settings, pool, Outbox(pool, sms=sms, backoff=QUICK), ["sms"]):
            dossiers = DossierClient(client, settings.task_queue)
            await dossiers.submit(submission)
            await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
            await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.REJECT,
                                                        reason=f"Người {personal_id} không có chỗ ở hợp pháp"))
            await dossiers.result(code)

            async def both_sent() -> bool:
                return await pool.fetchval("SELECT count(*) FROM notifications WHERE dossier_code = $1"
                                           " AND status = 'sent'", code) == 2
            await eventually(both_sent, "the receipt's and the refusal's SMS")
        async with httpx.AsyncClient() as http:
            recorded = [m for m in (await http.get(f"{gateway.url}/messages")).json() if code in m["request_id"]]
    assert sorted(m["request_id"] for m in recorded) == [f"{code}.0001-accepted.sms", f"{code}.9999-closed.sms"]
    for message in recorded:
        assert message["phone"] == "0912345678" and message["brandname"] == "CONGAN"
        assert personal_id not in message["content"] and not re.search(r"\d{12}", message["content"])
        assert message["content"].isascii()
    refusal = next(m["content"] for m in recorded if m["request_id"].endswith("closed.sms"))
    assert refusal.startswith(f"Ho so {code} bi tu choi")


async def test_a_step_recorded_twice_is_one_message_per_channel(rolled_back: asyncpg.Connection):
    """A retried activity writes its trail entry again: the outbox keeps one message (and one event) per step."""
    conn, code = rolled_back, "HS-NOTIFY-TWICE"
    await conn.execute("INSERT INTO dossier_contacts (dossier_code, channel, email) VALUES ($1, 'email', $2)",
                       code, "a@example.vn")
    for _ in range(2):
        await conn.execute("INSERT INTO audit_events (dossier_code, event_key, actor, action) VALUES"
                           " ($1, '0001-accepted', 'system', 'accepted'), ($1, '0002-fee_paid', 'system', 'fee_paid'),"
                           " ($1, '9999-closed', 'system', 'completed') ON CONFLICT DO NOTHING", code)
    rows = await conn.fetch("SELECT step, kind, channel FROM notifications WHERE dossier_code = $1 ORDER BY step", code)
    assert [tuple(r) for r in rows] == [("0001-accepted", "accepted", "email"), ("9999-closed", "completed", "email")]
    events = await conn.fetch("SELECT type FROM events WHERE dossier_code = $1 ORDER BY sequence", code)
    assert [r["type"] for r in events] == ["dossier.accepted", "fee.paid", "dossier.completed"]


async def test_a_posted_result_is_tracked_and_its_tracking_number_sent(
        client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    submission["delivery"] = {"method": "postal", "destination": "Số 7 phố Hàng Bài, Phường Hoàn Kiếm, Hà Nội"}
    submission["contact"] = {"channel": "email", "email": "tuyet.nguyen@example.vn"}
    async with mail_server(tmp_path / "maildir") as smtp, \
            carrier("postal", tmp_path / "postal.jsonl", "--transit", "0.3", "--deliver", "0.6") as post:
        outbox = Outbox(pool, mailer=SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port,
                                                           sender=f"no-reply@{DOMAIN}")),
                        postal=HttpPostalService(PostalConfig(url=post.url, customer_code="CUTRU",
                                                              token=SecretStr(POSTAL_TOKEN))),
                        backoff=QUICK, tracking_poll=timedelta(milliseconds=200))
        async with dispatching(client, settings, pool, outbox, ["email", "postal"]):
            dossiers = DossierClient(client, settings.task_queue)
            await dossiers.submit(submission)
            await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
            await dossiers.decide(code, approve())
            await head_signs(dossiers, pool, code)
            await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
            await pay(dossiers, pool, code)
            assert (await dossiers.result(code)).state == DossierState.COMPLETED

            async def delivered() -> bool:
                return await pool.fetchval("SELECT status FROM shipments WHERE dossier_code = $1", code) == "delivered"
            await eventually(delivered, "the postal service delivers the result")

            async def told() -> bool:
                return sent_by(code, "dispatched") in smtp.message_ids()
            await eventually(told, "the dispatch e-mail")
        async with httpx.AsyncClient() as http:
            orders = [o for o in (await http.get(f"{post.url}/orders")).json() if o["OrderCode"] == code]
    tracking = await pool.fetchval("SELECT tracking_number FROM shipments WHERE dossier_code = $1", code)
    assert [o["ItemCode"] for o in orders] == [tracking] and re.fullmatch(r"EB[0-9]{9}VN", tracking)
    statuses = await pool.fetch("SELECT status FROM shipment_statuses WHERE dossier_code = $1 ORDER BY at", code)
    assert [r["status"] for r in statuses] == ["accepted", "in_transit", "delivered"]
    events = await pool.fetch("SELECT type, data FROM events WHERE dossier_code = $1 AND type LIKE 'result.%'"
                              " ORDER BY sequence", code)
    assert [r["type"] for r in events] == ["result.dispatched", "result.in_transit", "result.delivered"]
    dispatched = next(m for m in mailbox.Maildir(smtp.maildir, create=False)
                      if "".join(str(m["Message-ID"]).split()) == sent_by(code, "dispatched"))
    assert tracking in email.message_from_bytes(dispatched.as_bytes(), policy=default).get_content()


async def test_operators_list_what_failed_and_queue_it_again(api_client: httpx.AsyncClient,
                                                            oidc_provider: OidcProvider, pool: asyncpg.Pool):
    """Given-up messages and refused shipments are listed without a personal ID; a re-queue puts one back once,
    and a refused one changes nothing."""
    operator = bearer(client_credentials_token(oidc_provider, "cutru-operator"))
    code, personal_id = f"HS-OPS-{uuid.uuid4().hex[:8].upper()}", "001099012345"
    await pool.execute(
        "INSERT INTO notifications (dossier_code, step, kind, channel, status, attempts, last_error, created_at)"
        " VALUES ($1, '0001-accepted', 'accepted', 'sms', 'failed', 1, $2, now() - interval '2 minutes'),"
        " ($1, '9999-closed', 'completed', 'email', 'failed', 3, '550 mailbox unavailable',"
        "  now() - interval '1 minute'),"
        " ($1, 'fee_due', 'fee_due', 'email', 'sent', 1, NULL, now())",
        code, f"PersonalIdInSms: the SMS would carry {personal_id}")
    await pool.execute("INSERT INTO deliveries (dossier_code, method, destination, documents)"
                       " VALUES ($1, 'postal', 'Số 7 phố Hàng Bài, Hà Nội', '{CT08}')", code)
    await pool.execute("UPDATE shipments SET attempts = 4, last_error = 'HTTP 503', created_at = now()"
                       " WHERE dossier_code = $1", code)

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:  # one item a page: the pages go on where the last one ended
        page = await api_client.get("/v1/notifications/failed", headers=operator,
                                    params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [item for item in page.json()["items"] if item["dossier_code"] == code]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [(i["channel"], i["step"], i["status"], i["attempts"]) for i in seen] == [
        ("sms", "0001-accepted", "failed", 1), ("email", "9999-closed", "failed", 3),
        ("postal", "shipment", "retrying", 4)]
    assert personal_id not in json.dumps(seen) and seen[0]["last_error"].endswith("************")
    postal_only = await api_client.get("/v1/notifications/failed", headers=operator, params={"channel": "postal"})
    assert {i["channel"] for i in postal_only.json()["items"]} == {"postal"}

    async def requeue(channel: str, step: str) -> httpx.Response:
        return await api_client.post("/v1/notifications/requeue", headers=operator,
                                     json={"channel": channel, "dossier_code": code, "step": step})

    for _ in range(2):  # the second asks for what the first did
        again = await requeue("email", "9999-closed")
        assert again.status_code == 202, again.text
    assert again.json()["requeued"] is False
    row = await pool.fetchrow("SELECT status, attempts, next_attempt_at <= now() AS due FROM notifications"
                              " WHERE dossier_code = $1 AND step = '9999-closed'", code)
    assert dict(row) == {"status": "pending", "attempts": 0, "due": True}
    shipment = await requeue("postal", "shipment")
    assert shipment.status_code == 202 and shipment.json()["requeued"] is True
    assert await pool.fetchval("SELECT last_error FROM shipments WHERE dossier_code = $1", code) is None

    before = await pool.fetch("SELECT * FROM notifications WHERE dossier_code = $1 ORDER BY step", code)
    sent = await requeue("email", "fee_due")
    assert sent.status_code == 409 and sent.json()["code"] == "notification_delivered"
    missing = await requeue("sms", "9999-closed")
    assert missing.status_code == 404 and missing.json()["code"] == "notification_not_found"
    for body in ({"channel": "postal", "dossier_code": code, "step": "fee_due"},
                 {"channel": "email", "dossier_code": code, "step": "shipment"},
                 {"channel": "fax", "dossier_code": code, "step": "fee_due"}):
        refused = await api_client.post("/v1/notifications/requeue", headers=operator, json=body)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    officer = bearer(login_token(oidc_provider, "CB-00070-02"))
    forbidden = await api_client.post("/v1/notifications/requeue", headers=officer,
                                      json={"channel": "sms", "dossier_code": code, "step": "0001-accepted"})
    assert forbidden.status_code == 403
    assert await pool.fetch("SELECT * FROM notifications WHERE dossier_code = $1 ORDER BY step", code) == before


async def test_officers_are_emailed_each_reminder_and_escalation_once(
        client: Client, settings: Settings, pool: asyncpg.Pool, activities: DossierActivities, tmp_path: Path):
    """A reminder reaches the assigned officer, an escalation the officer and the unit's supervisors, each once
    whatever the retries, by e-mail with the desk's link; a supervisor without an address gets the inbox only."""
    tag = uuid.uuid4().hex[:6].upper()
    unit, code, applicant_id = f"CA-M{tag}", f"HS-M{tag}-OFFICERS", "001190000001"
    officer, head, deputy = f"CB-M{tag}-01", f"CB-M{tag}-00", f"CB-M{tag}-02"
    await pool.execute("INSERT INTO police_units (unit_code, name, province_code, commune_code)"
                       " VALUES ($1, 'Công an Phường Thư', '99', $2)", unit, f"M{tag}")
    await pool.executemany(
        "INSERT INTO officers (officer_id, full_name, unit_code, role, email) VALUES ($1, $2, $3, $4, $5)",
        [(officer, "Nguyễn Thị Thụ Lý", unit, "officer", "thuly@congan.example"),
         (head, "Trần Văn Trưởng", unit, "supervisor", "truong@congan.example"),
         (deputy, "Lê Văn Phó", unit, "supervisor", None)])
    deadline = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # 17:00 in Hà Nội
    await pool.execute(
        "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name, received_at,"
        " deadline, assigned_officer) VALUES ($1, 'PermanentResidenceRegistration', 'awaiting_decision', $2, $3,"
        " 'Nguyễn Văn Dân', now(), $4, $5)", code, unit, applicant_id, deadline, officer)

    async def record(action: TrailAction, index: int) -> None:
        await ActivityEnvironment().run(activities.record_event, AuditBatch(records=(AuditRecord(
            dossier_code=code, event_key=f"{index:04d}-{action.value}",
            entry=TrailEntry(at=datetime.now(UTC), actor="system", action=action)),)))

    try:
        for _attempt in range(2):  # the second as Temporal retries an attempt whose completion was lost
            await record(TrailAction.REMINDER_SENT, 1)
            await record(TrailAction.ESCALATED, 2)
        async with mail_server(tmp_path / "maildir") as smtp:
            outbox = Outbox(pool, mailer=SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port,
                                                               sender=f"no-reply@{DOMAIN}")),
                            desk_url="https://desk.cutru.test/", backoff=QUICK)
            async with dispatching(client, settings, pool, outbox, ["email"]):
                async def all_sent() -> bool:
                    return await pool.fetchval("SELECT count(*) FILTER (WHERE status = 'sent') = 3 AND count(*) = 3"
                                               " FROM notifications WHERE dossier_code = $1", code)
                await eventually(all_sent, "the three officers' e-mails")
                await record(TrailAction.ESCALATED, 2)  # a retry after they were sent
            mine = {k: v for k, v in smtp.message_ids().items() if code in k}
            messages = [email.message_from_bytes(m.as_bytes(), policy=default)
                        for m in mailbox.Maildir(smtp.maildir, create=False) if code in str(m["Message-ID"])]
        assert len(mine) == 3 and set(mine.values()) == {1}
        assert await pool.fetchval("SELECT count(*) FROM notifications WHERE dossier_code = $1", code) == 3
        told = sorted((str(m["To"]), str(m["Subject"])) for m in messages)
        assert told == [("thuly@congan.example", f"Hồ sơ {code} sắp đến hạn giải quyết"),
                        ("thuly@congan.example", f"Hồ sơ {code} đã quá hạn giải quyết"),
                        ("truong@congan.example", f"Hồ sơ {code} đã quá hạn giải quyết")]
        for message in messages:
            body = message.get_content()
            assert f"https://desk.cutru.test/desk/dossiers/{code}" in body and "17:00 ngày 09/12/2026" in body
            assert "Cán bộ thụ lý: Nguyễn Thị Thụ Lý" in body
            assert applicant_id not in body and not re.search(r"\d{12}", body) and "Nguyễn Văn Dân" not in body
        inbox = await pool.fetch("SELECT officer_id, kind FROM desk_notices WHERE dossier_code = $1", code)
        assert (deputy, "escalation") in {(r["officer_id"], r["kind"]) for r in inbox}
    finally:  # the trail stays (append-only); the unit's rows go, as no other test's figures should count them
        for table in ("notifications", "desk_notices", "dossiers"):
            await pool.execute(f"DELETE FROM {table} WHERE dossier_code = $1", code)
        await pool.execute("DELETE FROM officers WHERE unit_code = $1", unit)
        await pool.execute("DELETE FROM police_units WHERE unit_code = $1", unit)
